//! Sorted lists (AIP-132 `order_by`) with keyset pagination that stays exact under a sort.
//!
//! A list names the fields it sorts by ([`SortField`]). `order_by` is one of them,
//! optionally followed by ` desc`; an empty `order_by` is the list's natural order, its id.
//! Rows that tie on the field are ordered by id in the same direction (so that one index on
//! the field and id serves both directions), every order is total, and a page token
//! (the last row's id and sort value) resumes exactly after the row it names, whatever was
//! inserted meanwhile.
//!
//! Text sorts by code point in both engines: SQLite compares bytes, and each PostgreSQL
//! column a list sorts by is declared `COLLATE "C"` by its service's migrations. Chinese
//! names therefore sort by character (same surname together), not by pinyin, and the same
//! on every instance whatever its database's locale.

use egret_runtime::{ApiError, Violation, Violations};
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, Row};

/// How a sort column is stored, which decides how its value is bound and kept in a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKind {
    /// TEXT.
    Text,
    /// BIGINT (times are microseconds since the epoch).
    Integer,
}

/// A field a list may be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortField {
    /// Its name in `order_by` (the proto field's name).
    pub name: &'static str,
    /// Its column, qualified as the list's query selects it (`v.display_name`); the
    /// selected row names it without the qualifier.
    pub column: &'static str,
    /// How it is stored.
    pub kind: SortKind,
}

impl SortField {
    /// A TEXT column.
    pub const fn text(name: &'static str, column: &'static str) -> Self {
        Self {
            name,
            column,
            kind: SortKind::Text,
        }
    }

    /// A BIGINT column.
    pub const fn integer(name: &'static str, column: &'static str) -> Self {
        Self {
            name,
            column,
            kind: SortKind::Integer,
        }
    }

    /// The column's name in the selected row.
    fn selected_as(&self) -> &'static str {
        self.column.rsplit('.').next().unwrap_or(self.column)
    }
}

/// A list's order: by id (the default), or by one field and then id.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ordering {
    field: Option<&'static SortField>,
    descending: bool,
}

/// The longest `order_by` accepted.
const MAX_ORDER_BY: usize = 64;

fn unsupported(fields: &[SortField]) -> Violation {
    let names = fields
        .iter()
        .map(|field| field.name)
        .collect::<Vec<_>>()
        .join(", ");
    Violation::new(
        "order_by",
        format!("must be one of {names}, optionally followed by \" desc\""),
        format!("排序字段必须是 {names} 之一，可在其后加“ desc”表示倒序"),
    )
}

impl Ordering {
    /// The natural order: by id, ascending.
    pub const BY_ID: Ordering = Ordering {
        field: None,
        descending: false,
    };

    /// Reads `order_by` (see [`Ordering::parse`]); a bad one is added to `violations` and
    /// the natural order returned.
    pub fn read(violations: &mut Violations, order_by: &str, fields: &'static [SortField]) -> Self {
        Self::parse(order_by, fields).unwrap_or_else(|violation| {
            violations.push(violation);
            Self::BY_ID
        })
    }

    /// Parses `order_by`: empty, or one of `fields` with an optional ` asc` or ` desc`.
    /// Sorting by several fields at once is refused rather than half-honoured.
    pub fn parse(order_by: &str, fields: &'static [SortField]) -> Result<Self, Violation> {
        if order_by.len() > MAX_ORDER_BY {
            return Err(unsupported(fields));
        }
        let order_by = order_by.trim();
        if order_by.is_empty() {
            return Ok(Self::BY_ID);
        }
        if order_by.contains(',') {
            return Err(Violation::new(
                "order_by",
                "sorts by one field only",
                "只能按一个字段排序",
            ));
        }
        let mut words = order_by.split_whitespace();
        let (Some(name), direction, None) = (words.next(), words.next(), words.next()) else {
            return Err(unsupported(fields));
        };
        let descending = match direction {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(_) => return Err(unsupported(fields)),
        };
        let Some(field) = fields.iter().find(|field| field.name == name) else {
            return Err(unsupported(fields));
        };
        Ok(Self {
            field: Some(field),
            descending,
        })
    }

    /// What a page token is bound to, beside the list's filters: a token of one order
    /// is refused by another.
    pub fn fingerprint(&self) -> String {
        match self.field {
            None => String::new(),
            Some(field) => format!(
                "|order={}{}",
                field.name,
                if self.descending { " desc" } else { "" }
            ),
        }
    }

    /// The query's end for rows aliased `alias`: the keyset condition when resuming after
    /// `after` (a key from [`Ordering::key_of`]), the ORDER BY and the LIMIT. Parameters are
    /// numbered from `first`: the limit, then the key's id and sort value.
    pub fn tail(&self, alias: &str, after: Option<&str>, first: usize) -> Result<Keyset, ApiError> {
        let (limit, id, value) = (first, first + 1, first + 2);
        let direction = if self.descending { "DESC" } else { "ASC" };
        let Some(field) = self.field else {
            let (condition, key) = match after {
                Some(after) => (
                    format!("AND {alias}.id > ${id} "),
                    Some((after.to_string(), None)),
                ),
                None => (String::new(), None),
            };
            return Ok(Keyset {
                sql: format!("{condition}ORDER BY {alias}.id LIMIT ${limit}"),
                key,
            });
        };
        let column = field.column;
        let order = format!("ORDER BY {column} {direction}, {alias}.id {direction} LIMIT ${limit}");
        let Some(after) = after else {
            return Ok(Keyset {
                sql: order,
                key: None,
            });
        };
        let invalid = || {
            ApiError::invalid(
                "page_token",
                "is not a token of this list",
                "分页令牌无效，请不带令牌重新查询",
            )
        };
        let (after_id, after_value) = after.split_once('\t').ok_or_else(invalid)?;
        let after_value = match field.kind {
            SortKind::Text => KeyValue::Text(after_value.to_string()),
            SortKind::Integer => KeyValue::Integer(after_value.parse().map_err(|_| invalid())?),
        };
        let beyond = if self.descending { "<" } else { ">" };
        Ok(Keyset {
            sql: format!(
                "AND ({column} {beyond} ${value} OR ({column} = ${value} AND {alias}.id {beyond} ${id})) \
                 {order}"
            ),
            key: Some((after_id.to_string(), Some(after_value))),
        })
    }

    /// A row's page-token key: its id alone in id order, else its id, a tab and its sort
    /// value.
    pub fn key_of(&self, row: &AnyRow) -> Result<String, ApiError> {
        let read = |error: sqlx::Error| ApiError::Internal(anyhow::anyhow!("sort key: {error}"));
        let id: String = row.try_get("id").map_err(read)?;
        let Some(field) = self.field else {
            return Ok(id);
        };
        let value = match field.kind {
            SortKind::Text => row
                .try_get::<String, _>(field.selected_as())
                .map_err(read)?,
            SortKind::Integer => row
                .try_get::<i64, _>(field.selected_as())
                .map_err(read)?
                .to_string(),
        };
        Ok(format!("{id}\t{value}"))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum KeyValue {
    Text(String),
    Integer(i64),
}

/// The end of a sorted list's query, with the values its parameters take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyset {
    /// `[AND keyset condition] ORDER BY … LIMIT $n`, to follow the query's filters.
    pub sql: String,
    key: Option<(String, Option<KeyValue>)>,
}

impl Keyset {
    /// Binds the limit and the key, in the order [`Ordering::tail`] numbered them; call it
    /// after binding the query's own parameters.
    pub fn bind<'q>(
        &'q self,
        query: Query<'q, Any, AnyArguments<'q>>,
        limit: i64,
    ) -> Query<'q, Any, AnyArguments<'q>> {
        let query = query.bind(limit);
        let Some((id, value)) = &self.key else {
            return query;
        };
        let query = query.bind(id.as_str());
        match value {
            None => query,
            Some(KeyValue::Text(text)) => query.bind(text.as_str()),
            Some(KeyValue::Integer(number)) => query.bind(*number),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static FIELDS: [SortField; 2] = [
        SortField::text("display_name", "v.display_name"),
        SortField::integer("create_time", "v.create_time"),
    ];

    #[test]
    fn order_by_is_parsed_or_refused() {
        struct TestCase {
            order_by: &'static str,
            parsed: Option<(Option<&'static str>, bool)>,
        }
        let cases = [
            TestCase {
                order_by: "",
                parsed: Some((None, false)),
            },
            TestCase {
                order_by: "display_name",
                parsed: Some((Some("display_name"), false)),
            },
            TestCase {
                order_by: " create_time  desc ",
                parsed: Some((Some("create_time"), true)),
            },
            TestCase {
                order_by: "display_name asc",
                parsed: Some((Some("display_name"), false)),
            },
            TestCase {
                order_by: "phone",
                parsed: None,
            },
            TestCase {
                order_by: "display_name down",
                parsed: None,
            },
            TestCase {
                order_by: "display_name, create_time",
                parsed: None,
            },
            TestCase {
                order_by: "display_name desc extra",
                parsed: None,
            },
        ];
        for case in cases {
            let parsed = Ordering::parse(case.order_by, &FIELDS)
                .ok()
                .map(|ordering| (ordering.field.map(|field| field.name), ordering.descending));
            assert_eq!(parsed, case.parsed, "order_by {:?}", case.order_by);
        }
        let long = "display_name".repeat(10);
        assert!(Ordering::parse(&long, &FIELDS).is_err());
    }

    #[test]
    fn tails_number_their_parameters() {
        let by_name = Ordering::parse("display_name desc", &FIELDS).expect("parses");
        let first = by_name.tail("v", None, 7).expect("first page");
        assert_eq!(
            first.sql,
            "ORDER BY v.display_name DESC, v.id DESC LIMIT $7"
        );
        let next = by_name
            .tail("v", Some("id-9\t王\tx"), 7)
            .expect("next page");
        assert!(next.sql.starts_with(
            "AND (v.display_name < $9 OR (v.display_name = $9 AND v.id < $8)) ORDER BY"
        ));
        assert_eq!(
            next.key,
            Some(("id-9".into(), Some(KeyValue::Text("王\tx".into()))))
        );
        let by_time = Ordering::parse("create_time", &FIELDS).expect("parses");
        assert!(by_time.tail("v", Some("id-9\tnot a number"), 1).is_err());
        assert!(by_time.tail("v", Some("no tab"), 1).is_err());
        let by_id = Ordering::BY_ID.tail("v", Some("id-9"), 3).expect("by id");
        assert_eq!(by_id.sql, "AND v.id > $4 ORDER BY v.id LIMIT $3");
        assert_ne!(by_name.fingerprint(), by_time.fingerprint());
        assert_eq!(Ordering::BY_ID.fingerprint(), "");
    }
}
