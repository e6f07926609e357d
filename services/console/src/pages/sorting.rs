//! Sortable tables: a list's `sort` parameter, checked against the columns the page
//! offers and passed to the list RPC as its `order_by`, and the column headers that switch
//! it. A click on a header sorts by that column ascending, a second click descending.

/// A column of a sortable table.
pub(crate) struct Column {
    /// The list RPC's `order_by` field; empty for a column that does not sort.
    pub field: &'static str,
    /// The header's text.
    pub label: &'static str,
}

/// A column header as rendered.
pub(crate) struct SortHeader {
    /// The header's text.
    pub label: &'static str,
    /// The `sort` a click asks for; empty for a column that does not sort.
    pub next: String,
    /// `ascending`, `descending` or `none` (the `aria-sort` of a sortable column).
    pub aria: &'static str,
    /// ▲ or ▼ beside the column sorted by.
    pub arrow: &'static str,
    /// For a page read with GET: its address with `sort` set to `next`.
    pub href: String,
}

/// The order a table is shown in: empty (the list's own order), `field` or `field desc`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Sorting {
    field: &'static str,
    descending: bool,
}

impl Sorting {
    /// Reads `sort` as posted or in a query; anything but a column of `columns`, with an
    /// optional ` desc`, is the list's own order.
    pub fn parse(raw: &str, columns: &[Column]) -> Self {
        let mut words = raw.split_whitespace();
        let (Some(name), direction, None) = (words.next(), words.next(), words.next()) else {
            return Self::default();
        };
        let descending = match direction {
            None => false,
            Some("desc") => true,
            Some(_) => return Self::default(),
        };
        columns
            .iter()
            .find(|column| !column.field.is_empty() && column.field == name)
            .map(|column| Self {
                field: column.field,
                descending,
            })
            .unwrap_or_default()
    }

    /// The RPC's `order_by`, and what the page keeps in its links and forms.
    pub fn order_by(&self) -> String {
        match (self.field, self.descending) {
            ("", _) => String::new(),
            (field, false) => field.to_string(),
            (field, true) => format!("{field} desc"),
        }
    }

    /// The headers of `columns`; `base` is the page's address up to where `sort=` goes
    /// (`/projects?status=2&`), for pages read with GET.
    pub fn headers(&self, columns: &[Column], base: &str) -> Vec<SortHeader> {
        columns
            .iter()
            .map(|column| {
                if column.field.is_empty() {
                    return SortHeader {
                        label: column.label,
                        next: String::new(),
                        aria: "",
                        arrow: "",
                        href: String::new(),
                    };
                }
                let current = column.field == self.field;
                let next = Sorting {
                    field: column.field,
                    descending: current && !self.descending,
                }
                .order_by();
                let (aria, arrow) = match (current, self.descending) {
                    (false, _) => ("none", ""),
                    (true, false) => ("ascending", "▲"),
                    (true, true) => ("descending", "▼"),
                };
                SortHeader {
                    label: column.label,
                    href: format!("{base}sort={}", next.replace(' ', "+")),
                    next,
                    aria,
                    arrow,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLUMNS: [Column; 3] = [
        Column {
            field: "volunteer_number",
            label: "编号",
        },
        Column {
            field: "display_name",
            label: "姓名",
        },
        Column {
            field: "",
            label: "手机",
        },
    ];

    #[test]
    fn sort_is_read_from_the_columns_only() {
        for (raw, order_by) in [
            ("", ""),
            ("display_name", "display_name"),
            ("display_name desc", "display_name desc"),
            ("display_name sideways", ""),
            ("phone", ""),
            ("", ""),
            ("display_name desc more", ""),
        ] {
            assert_eq!(
                Sorting::parse(raw, &COLUMNS).order_by(),
                order_by,
                "{raw:?}"
            );
        }
    }

    #[test]
    fn a_header_click_sorts_ascending_then_descending() {
        let unsorted = Sorting::default().headers(&COLUMNS, "/list?");
        assert_eq!(unsorted[1].next, "display_name");
        assert_eq!(unsorted[1].aria, "none");
        assert_eq!(unsorted[2].next, "");
        let ascending = Sorting::parse("display_name", &COLUMNS).headers(&COLUMNS, "/list?");
        assert_eq!(ascending[1].next, "display_name desc");
        assert_eq!(ascending[1].href, "/list?sort=display_name+desc");
        assert_eq!((ascending[1].aria, ascending[1].arrow), ("ascending", "▲"));
        assert_eq!(ascending[0].next, "volunteer_number");
        let descending = Sorting::parse("display_name desc", &COLUMNS).headers(&COLUMNS, "");
        assert_eq!(descending[1].next, "display_name");
        assert_eq!(descending[1].aria, "descending");
    }
}
