//! Numbering schemes for archive, team and volunteer numbers (档案编号, 队伍编号, 志愿者编号).
//!
//! A scheme is a template such as `{instance}-DA-{year}-{seq:5}`: `{instance}` is the
//! instance id in capitals, `{year}` the current year, `{tier}` T for a team and S for a
//! sub-team, and `{seq:N}` a counter padded to N digits. The counter belongs to the text
//! before it, so a scheme with `{year}` starts again at 1 every year.

/// A validated scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scheme {
    template: String,
}

/// The values a scheme's placeholders take.
#[derive(Debug, Clone, Copy)]
pub struct SchemeValues<'a> {
    /// The instance id.
    pub instance: &'a str,
    /// The year.
    pub year: i32,
    /// The tier code (T or S), empty where it does not apply.
    pub tier: &'a str,
}

/// A rendered number, split at the counter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Everything before the counter: the counter's key.
    pub prefix: String,
    /// Padding width of the counter.
    pub width: usize,
    /// Everything after the counter.
    pub suffix: String,
}

impl Rendered {
    /// The number for counter value `value`.
    pub fn number(&self, value: i64) -> String {
        format!(
            "{}{:0width$}{}",
            self.prefix,
            value,
            self.suffix,
            width = self.width
        )
    }
}

impl Scheme {
    /// Parses a template; the error says what is wrong.
    pub fn parse(template: &str) -> Result<Self, String> {
        let mut rest = template;
        let mut counters = 0;
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}') else {
                return Err(format!("unclosed '{{' in {template:?}"));
            };
            let placeholder = &rest[open + 1..open + close];
            match placeholder {
                "instance" | "year" | "tier" => {}
                "seq" => counters += 1,
                other => match other.strip_prefix("seq:").map(str::parse::<usize>) {
                    Some(Ok(width)) if (1..=12).contains(&width) => counters += 1,
                    _ => {
                        return Err(format!(
                            "unknown placeholder {{{placeholder}}}; use {{instance}}, {{year}}, {{tier}} and {{seq:N}}"
                        ));
                    }
                },
            }
            rest = &rest[open + close + 1..];
        }
        if counters != 1 {
            return Err(format!(
                "{template:?} must contain exactly one {{seq}} or {{seq:N}}"
            ));
        }
        if template.len() > 64 {
            return Err("must be at most 64 characters".to_string());
        }
        Ok(Self {
            template: template.to_string(),
        })
    }

    /// Fills in everything but the counter.
    pub fn render(&self, values: SchemeValues<'_>) -> Rendered {
        let filled = self
            .template
            .replace("{instance}", &values.instance.to_ascii_uppercase())
            .replace("{year}", &values.year.to_string())
            .replace("{tier}", values.tier);
        let open = filled.find("{seq").expect("a parsed scheme has a counter");
        let close = open
            + filled[open..]
                .find('}')
                .expect("a parsed scheme closes its counter");
        let width = filled[open + 1..close]
            .strip_prefix("seq:")
            .and_then(|width| width.parse().ok())
            .unwrap_or(1);
        Rendered {
            prefix: filled[..open].to_string(),
            width,
            suffix: filled[close + 1..].to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_render() {
        let scheme = Scheme::parse("{instance}-DA-{year}-{seq:5}").expect("parses");
        let rendered = scheme.render(SchemeValues {
            instance: "xm-siming",
            year: 2026,
            tier: "T",
        });
        assert_eq!(rendered.prefix, "XM-SIMING-DA-2026-");
        assert_eq!(rendered.number(12), "XM-SIMING-DA-2026-00012");
        let team = Scheme::parse("{instance}-{tier}{seq:4}")
            .expect("parses")
            .render(SchemeValues {
                instance: "xm",
                year: 2026,
                tier: "S",
            });
        assert_eq!(team.number(3), "XM-S0003");
    }

    #[test]
    fn bad_schemes_are_refused() {
        assert!(Scheme::parse("{instance}").is_err());
        assert!(Scheme::parse("{seq}{seq}").is_err());
        assert!(Scheme::parse("{seq:0}").is_err());
        assert!(Scheme::parse("{nope}{seq}").is_err());
        assert!(Scheme::parse("{seq").is_err());
    }
}
