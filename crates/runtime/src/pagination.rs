//! Keyset pagination shared by every list RPC: bounded page sizes and opaque page tokens
//! that are bound to the filters they were issued for.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::ApiError;

/// Page size when the request asks for none.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// The largest page a list RPC serves.
pub const MAX_PAGE_SIZE: u32 = 500;

/// A validated page request: how many rows and after which key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// How many rows to return.
    pub size: u32,
    /// Return rows strictly after this key; None for the first page.
    pub after: Option<String>,
    fingerprint: u64,
}

/// FNV-1a: a stable, dependency-free fingerprint of the filters a token belongs to.
fn fingerprint(filters: &str) -> u64 {
    filters.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl PageRequest {
    /// Validates `page_size` (0 means the default; negative or above `max` is refused) and
    /// decodes `page_token`, which must have been issued for the same `filters`.
    pub fn parse(
        page_size: i32,
        page_token: &str,
        filters: &str,
        default: u32,
        max: u32,
    ) -> Result<Self, ApiError> {
        let size = match page_size {
            0 => default,
            size if size < 0 => {
                return Err(ApiError::invalid(
                    "page_size",
                    "must not be negative",
                    "每页条数不能为负数",
                ));
            }
            size if size as u32 > max => {
                return Err(ApiError::invalid(
                    "page_size",
                    format!("must be at most {max}"),
                    format!("每页条数不能超过 {max}"),
                ));
            }
            size => size as u32,
        };
        let fingerprint = fingerprint(filters);
        if page_token.is_empty() {
            return Ok(Self {
                size,
                after: None,
                fingerprint,
            });
        }
        let invalid_token = || {
            ApiError::invalid(
                "page_token",
                "is not a token this list issued for these filters; start again without it",
                "分页令牌无效或与查询条件不符，请不带令牌重新查询",
            )
        };
        let decoded = URL_SAFE_NO_PAD
            .decode(page_token)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(invalid_token)?;
        let mut parts = decoded.splitn(3, '|');
        let (Some("v1"), Some(token_fingerprint), Some(after)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid_token());
        };
        if token_fingerprint != format!("{fingerprint:016x}") || after.is_empty() {
            return Err(invalid_token());
        }
        Ok(Self {
            size,
            after: Some(after.to_string()),
            fingerprint,
        })
    }

    /// A standard list request (default 50, at most 500).
    pub fn standard(page_size: i32, page_token: &str, filters: &str) -> Result<Self, ApiError> {
        Self::parse(
            page_size,
            page_token,
            filters,
            DEFAULT_PAGE_SIZE,
            MAX_PAGE_SIZE,
        )
    }

    /// How many rows to fetch: one more than the page, to know whether another page exists.
    pub fn fetch_limit(&self) -> i64 {
        i64::from(self.size) + 1
    }

    /// Trims the fetched rows to the page and returns the next page token (empty on the
    /// last page); `key` gives a row's keyset key.
    pub fn finish<T>(&self, rows: &mut Vec<T>, key: impl Fn(&T) -> String) -> String {
        if rows.len() <= self.size as usize {
            return String::new();
        }
        rows.truncate(self.size as usize);
        let Some(last) = rows.last() else {
            return String::new();
        };
        URL_SAFE_NO_PAD.encode(format!("v1|{:016x}|{}", self.fingerprint, key(last)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_chain_and_tokens_are_bound_to_filters() {
        let first = PageRequest::standard(2, "", "tier=team").expect("first");
        let mut rows = vec!["a", "b", "c"];
        let token = first.finish(&mut rows, |row| row.to_string());
        assert_eq!(rows, ["a", "b"]);
        let second = PageRequest::standard(2, &token, "tier=team").expect("second");
        assert_eq!(second.after.as_deref(), Some("b"));
        assert!(PageRequest::standard(2, &token, "tier=squad").is_err());
        assert!(PageRequest::standard(2, "garbage", "tier=team").is_err());
        let mut last = vec!["c"];
        assert_eq!(second.finish(&mut last, |row| row.to_string()), "");
    }

    #[test]
    fn sizes_are_bounded() {
        assert_eq!(PageRequest::standard(0, "", "").expect("default").size, 50);
        assert!(PageRequest::standard(501, "", "").is_err());
        assert!(PageRequest::standard(-1, "", "").is_err());
        assert_eq!(PageRequest::standard(500, "", "").expect("max").size, 500);
    }
}
