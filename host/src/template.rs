//! `{{ variable }}` templates, as Spin's manifest writes them in component variables and
//! `allowed_outbound_hosts`, and Spin's rule for variable names.

use std::collections::HashMap;

/// Spin's rule for variable names (`spin-expressions`' `Key`): lowercase ASCII letters, digits and
/// single underscores, starting with a letter and ending with a letter or digit.
pub fn validate_name(name: &str) -> Result<(), String> {
    let bytes = name.as_bytes();
    if bytes.is_empty() {
        return Err("name must not be empty".to_string());
    }
    if !bytes
        .iter()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_')
    {
        return Err(
            "name must contain only lowercase ASCII letters, digits and underscores".to_string(),
        );
    }
    if !bytes[0].is_ascii_lowercase() {
        return Err("name must start with a lowercase ASCII letter".to_string());
    }
    if !bytes[bytes.len() - 1].is_ascii_alphanumeric() {
        return Err("name must end with a lowercase ASCII letter or digit".to_string());
    }
    if name.contains("__") {
        return Err("name must not contain consecutive underscores".to_string());
    }
    Ok(())
}

/// A component variable's value: literal text with `{{ app_variable }}` references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Variable(String),
}

impl Template {
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Literal(rest[..open].to_string()));
            }
            let after = &rest[open + 2..];
            let close = after
                .find("}}")
                .ok_or_else(|| format!("unterminated '{{{{' in template {text:?}"))?;
            let name = after[..close].trim();
            validate_name(name)
                .map_err(|why| format!("bad reference {{{{ {name} }}}} in template: {why}"))?;
            parts.push(Part::Variable(name.to_string()));
            rest = &after[close + 2..];
        }
        if rest.contains("}}") {
            return Err(format!("unmatched '}}}}' in template {text:?}"));
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_string()));
        }
        Ok(Template { parts })
    }

    /// Application variables this template reads.
    pub fn references(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Variable(name) => Some(name.as_str()),
            Part::Literal(_) => None,
        })
    }

    /// Renders with resolved application values; `None` names an unresolved reference.
    pub fn render(&self, values: &HashMap<String, String>) -> Result<String, String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Variable(name) => out.push_str(
                    values
                        .get(name)
                        .ok_or_else(|| format!("no value for application variable '{name}'"))?,
                ),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_spins_rule() {
        for good in ["a", "user_source", "jwt2", "a1_b2"] {
            assert!(validate_name(good).is_ok(), "{good}");
        }
        for bad in ["", "A", "1a", "_a", "a_", "a__b", "a-b", "a.b", "é"] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn templates_parse_and_render() {
        let t = Template::parse("pre {{ a }} mid {{b}}post").unwrap();
        assert_eq!(t.references().collect::<Vec<_>>(), vec!["a", "b"]);
        let values = HashMap::from([("a".into(), "1".into()), ("b".into(), "2".into())]);
        assert_eq!(t.render(&values).unwrap(), "pre 1 mid 2post");
        assert_eq!(
            Template::parse("plain").unwrap().render(&values).unwrap(),
            "plain"
        );
        assert_eq!(Template::parse("").unwrap().render(&values).unwrap(), "");
        assert!(Template::parse("{{ a").is_err());
        assert!(Template::parse("a }}").is_err());
        assert!(Template::parse("{{ Bad }}").is_err());
        assert!(Template::parse("{{ c }}").unwrap().render(&values).is_err());
    }
}
