//! `q=`: keyword search over titles and descriptions.
//!
//! The client's text is never FTS5 query syntax. It is cut into words (runs of letters and
//! digits); each word becomes a quoted FTS5 string, the last one a prefix, all required. So
//! `"`, `*`, `NEAR`, `OR`, `-`, `:` and parentheses are only separators or plain words, and
//! no input can make the MATCH expression malformed.

/// At most 200 characters, so at most 100 words.
pub const MAX_QUERY_CHARS: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    words: Vec<String>,
}

impl SearchQuery {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        if raw.chars().count() > MAX_QUERY_CHARS {
            return Err("must be at most 200 characters");
        }
        let words: Vec<String> = raw
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .collect();
        if words.is_empty() {
            return Err("must contain a word (letters or digits)");
        }
        Ok(Self { words })
    }

    pub fn words(&self) -> &[String] {
        &self.words
    }

    /// The MATCH expression for one word in one column, for ranking: `column` is `title` or
    /// `description`; the last word is a prefix, as in [`Self::match_expression`].
    pub fn word_in_column(&self, index: usize, column: &str, user_id: &str) -> String {
        let owner = owner_token(user_id);
        let word = &self.words[index];
        let star = if index == self.words.len() - 1 {
            "*"
        } else {
            ""
        };
        format!("owner:\"{owner}\" AND {column}:\"{word}\"{star}")
    }

    /// The MATCH expression for the FTS index of migration 0008: the owner's token (the user
    /// id in hex, as the index stores it) and every word in the title or the description.
    pub fn match_expression(&self, user_id: &str) -> String {
        let owner = owner_token(user_id);
        let last = self.words.len() - 1;
        let words: Vec<String> = self
            .words
            .iter()
            .enumerate()
            .map(|(i, word)| {
                // Words hold no `"` (it is a separator), so quoting needs no escaping.
                if i == last {
                    format!("\"{word}\"*")
                } else {
                    format!("\"{word}\"")
                }
            })
            .collect();
        format!(
            "owner:\"{owner}\" AND {{title description}}:({})",
            words.join(" AND ")
        )
    }
}

/// The token migration 0008 indexes as a document's owner: `hex(user_id)`, as SQLite writes it.
fn owner_token(user_id: &str) -> String {
    user_id.bytes().map(|b| format!("{b:02X}")).collect()
}

/// The MATCH expression for every search entry of one user (to erase them all, including any
/// a failed cleanup left behind).
pub fn owner_expression(user_id: &str) -> String {
    format!("owner:\"{}\"", owner_token(user_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_runs_of_letters_and_digits() {
        let q = SearchQuery::parse(r#"  "buy" milk* OR NEAR(eggs) -x:y café 42 "#).unwrap();
        assert_eq!(
            q.words(),
            ["buy", "milk", "OR", "NEAR", "eggs", "x", "y", "café", "42"]
        );
        assert_eq!(
            SearchQuery::parse("buy milk")
                .unwrap()
                .match_expression("ab"),
            r#"owner:"6162" AND {title description}:("buy" AND "milk"*)"#
        );
    }

    #[test]
    fn queries_without_words_or_too_long_are_refused() {
        for bad in ["", "   ", "\"\"", "*", "()", "-:", "\u{0}"] {
            assert!(SearchQuery::parse(bad).is_err(), "{bad:?}");
        }
        assert!(SearchQuery::parse(&"a".repeat(201)).is_err());
        assert_eq!(
            SearchQuery::parse(&"a ".repeat(100)).unwrap().words().len(),
            100
        );
    }
}
