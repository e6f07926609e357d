//! Paths in the org tree. A unit's path is `/root-id/…/own-id/`, so a subtree is a range
//! of paths, found by index in any database, and moving a subtree is one prefix rewrite.

/// The path of a new unit with `id` under `parent_path`.
pub fn child_path(parent_path: &str, id: &str) -> String {
    format!("{parent_path}{id}/")
}

/// The half-open range `[low, high)` of paths in the subtree rooted at `path` (itself
/// included). Paths end with '/', and '0' is the byte after '/', so the range holds exactly
/// the paths that start with `path`, and an index on the path column answers it.
pub fn subtree_bounds(path: &str) -> (String, String) {
    let stem = path.strip_suffix('/').unwrap_or(path);
    (path.to_string(), format!("{stem}0"))
}

/// True when `path` lies in the subtree rooted at `root_path`.
pub fn in_subtree(path: &str, root_path: &str) -> bool {
    path.starts_with(root_path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subtree_bounds_hold_exactly_the_subtree() {
        let (low, high) = subtree_bounds("/c/t/");
        for inside in ["/c/t/", "/c/t/s/", "/c/t/zzzz/"] {
            assert!(inside >= low.as_str() && inside < high.as_str(), "{inside}");
        }
        for outside in ["/c/", "/c/t0/", "/c/ta/", "/c/u/", "/c/s/"] {
            assert!(
                !(outside >= low.as_str() && outside < high.as_str()),
                "{outside}"
            );
        }
    }
}
