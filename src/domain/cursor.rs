//! Keyset-pagination cursors: where a page ended, sealed so that a client can hand it back but
//! neither forge nor alter it, and bound to the user and the list it was issued for.
//!
//! A cursor carries the last row's sort value and id (the next page starts strictly after that
//! pair, so a page costs the same at any depth), a [`Binding`] (a digest of the user id and of
//! every parameter of the list but the page size), and an HMAC-SHA256 tag under the
//! database's cursor key (migration 0010), so every replica sharing the database accepts the
//! cursors of every other, across restarts. The store binds every statement to the caller's
//! user id anyway; the binding and the tag are what make a foreign, stale or edited cursor a
//! clear 422 instead of a page of something else.

use ct_codecs::{Base64UrlSafeNoPadding, Decoder, Encoder};

const VERSION: u8 = 1;
const BINDING_BYTES: usize = 16;
const TAG_BYTES: usize = 16;
/// The longest cursor text accepted: a 200-character title of 4-byte characters seals into
/// about 1,130 characters.
pub const MAX_CURSOR_CHARS: usize = 1200;

/// The key cursors are sealed with: 32 random bytes the database holds.
#[derive(Clone, PartialEq, Eq)]
pub struct CursorKey([u8; 32]);

impl CursorKey {
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        Some(Self(bytes.try_into().ok()?))
    }

    fn tag(&self, message: &[u8]) -> [u8; TAG_BYTES] {
        let full = hmac_sha256::HMAC::mac(message, self.0);
        let mut tag = [0; TAG_BYTES];
        tag.copy_from_slice(&full[..TAG_BYTES]);
        tag
    }
}

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKey(…)")
    }
}

/// A row's value of the list's sort key: a time, a priority rank or a relevance score
/// (integers), a title (text), or a missing due date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortValue {
    Integer(i64),
    Text(String),
    Null,
}

/// Where a page ended: the last row's sort value and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub value: SortValue,
    pub id: i64,
}

/// What a cursor is valid for: one user's list with one set of filters, one sort and one order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding([u8; BINDING_BYTES]);

impl Binding {
    /// The binding of a list described by `canonical` (see `ListQuery::binding`): its first
    /// 16 bytes of SHA-256.
    pub fn digest(canonical: &str) -> Self {
        let digest = hmac_sha256::Hash::hash(canonical.as_bytes());
        let mut binding = [0; BINDING_BYTES];
        binding.copy_from_slice(&digest[..BINDING_BYTES]);
        Self(binding)
    }
}

/// The type of value a list's sort key has, so that a cursor of another sort is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    Integer,
    Text,
    /// A due date, or none.
    IntegerOrNull,
}

/// Seals `position` for the list `binding` names.
pub fn seal(position: &Position, binding: &Binding, key: &CursorKey) -> String {
    let mut bytes = vec![VERSION];
    bytes.extend_from_slice(&binding.0);
    match &position.value {
        SortValue::Null => bytes.push(0),
        SortValue::Integer(n) => {
            bytes.push(1);
            bytes.extend_from_slice(&n.to_be_bytes());
        }
        SortValue::Text(text) => {
            bytes.push(2);
            // Titles are at most 200 characters, so at most 800 bytes.
            let len = u16::try_from(text.len()).unwrap_or(u16::MAX);
            bytes.extend_from_slice(&len.to_be_bytes());
            bytes.extend_from_slice(&text.as_bytes()[..usize::from(len)]);
        }
    }
    bytes.extend_from_slice(&position.id.to_be_bytes());
    let tag = key.tag(&bytes);
    bytes.extend_from_slice(&tag);
    Base64UrlSafeNoPadding::encode_to_string(&bytes).unwrap_or_default()
}

/// A cursor as a client handed it back: in the form cursors have, but not yet known to be
/// genuine or meant for this list. [`Cursor::position_for`] checks the binding before the page
/// is read; [`Cursor::is_sealed_by`] checks the tag once the key is at hand (it comes back with
/// the page's own statement, so a page by cursor costs no extra round trip). Both refuse a
/// cursor whose bytes this API could never have sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(Option<Opened>);

/// A cursor's content, when its bytes are laid out as [`seal`] lays them out.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Opened {
    sealed: Vec<u8>,
    binding: Binding,
    position: Position,
    tag: [u8; TAG_BYTES],
}

/// The shortest cursor [`seal`] makes (a missing due date: 42 bytes), in characters.
pub const MIN_CURSOR_CHARS: usize = 56;

/// What [`Cursor::position_for`] says of a cursor that is well formed but that this API did not
/// issue (made up, edited, or sealed under another database's key).
pub const NOT_ISSUED: &str = "is not a cursor this API issued";

/// Where a page by cursor starts when the cursor could not be opened; never read, as
/// [`Cursor::position_for`] refuses such a cursor before any page is.
const NOWHERE: Position = Position {
    value: SortValue::Null,
    id: 0,
};

impl Cursor {
    /// The form every cursor has, and the OpenAPI document's `cursor` pattern (with its
    /// `minLength` and `maxLength`): canonical unpadded base64url of 56 to 1,200 characters
    /// whose first byte is the version (1), so the text starts with `A` and one of `Q`–`Z`,
    /// `a`–`f`. Anything else is an error here (a 422); text of that form is a `Cursor` even
    /// when it is not one this API issued, which [`Self::position_for`] refuses (a 400).
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        const MALFORMED: &str = "must be a cursor as the API hands them out (X-Next-Cursor): \
                                 base64url, 56 to 1,200 characters";
        if !(MIN_CURSOR_CHARS..=MAX_CURSOR_CHARS).contains(&text.len()) {
            return Err(MALFORMED);
        }
        let bytes = Base64UrlSafeNoPadding::decode_to_vec(text, None).map_err(|_| MALFORMED)?;
        if bytes.first() != Some(&VERSION) {
            return Err(MALFORMED);
        }
        Ok(Self(open(&bytes)))
    }

    /// The position, if the cursor was issued for the list `binding` names and its value is of
    /// the `kind` the list's sort key has; the message says what is wrong otherwise.
    pub fn position_for(
        &self,
        binding: &Binding,
        kind: ValueKind,
    ) -> Result<&Position, &'static str> {
        let Some(opened) = &self.0 else {
            return Err(NOT_ISSUED);
        };
        if opened.binding != *binding {
            return Err(
                "was issued for another list (other user, filters, sort or order): \
                        start again without a cursor",
            );
        }
        let fits = matches!(
            (&opened.position.value, kind),
            (SortValue::Text(_), ValueKind::Text)
                | (
                    SortValue::Integer(_),
                    ValueKind::Integer | ValueKind::IntegerOrNull
                )
                | (SortValue::Null, ValueKind::IntegerOrNull)
        );
        if fits {
            Ok(&opened.position)
        } else {
            Err(NOT_ISSUED)
        }
    }

    /// The position as the client claims it, for the store to build the page's statement
    /// before the key is at hand. Only after [`Self::position_for`] and with
    /// [`Self::is_sealed_by`] checked on the answer is the page the client's to see.
    pub fn claimed_position(&self) -> &Position {
        self.0.as_ref().map_or(&NOWHERE, |opened| &opened.position)
    }

    /// Whether the tag is this key's: in constant time.
    pub fn is_sealed_by(&self, key: &CursorKey) -> bool {
        let Some(opened) = &self.0 else {
            return false;
        };
        let expected = key.tag(&opened.sealed);
        expected
            .iter()
            .zip(opened.tag.iter())
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0
    }
}

/// The content of a cursor's bytes (the version byte checked), or `None` when they are not
/// laid out as [`seal`] lays them out.
fn open(bytes: &[u8]) -> Option<Opened> {
    let mut reader = Reader(bytes);
    if reader.take(1)? != [VERSION] {
        return None;
    }
    let binding = Binding(reader.array()?);
    let value = match reader.take(1)?[0] {
        0 => SortValue::Null,
        1 => SortValue::Integer(i64::from_be_bytes(reader.array()?)),
        2 => {
            let len = u16::from_be_bytes(reader.array()?);
            let text = reader.take(usize::from(len))?;
            SortValue::Text(String::from_utf8(text.to_vec()).ok()?)
        }
        _ => return None,
    };
    let id = i64::from_be_bytes(reader.array()?);
    let sealed_len = bytes.len() - reader.0.len();
    let tag: [u8; TAG_BYTES] = reader.array()?;
    if !reader.0.is_empty() {
        return None;
    }
    Some(Opened {
        sealed: bytes[..sealed_len].to_vec(),
        binding,
        position: Position { value, id },
        tag,
    })
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::list_query::{ListQuery, SortKey};

    fn key(byte: u8) -> CursorKey {
        CursorKey([byte; 32])
    }

    fn query(text: &str) -> ListQuery {
        ListQuery::parse(text).unwrap()
    }

    fn positions() -> Vec<Position> {
        vec![
            Position {
                value: SortValue::Integer(-5),
                id: 7,
            },
            Position {
                value: SortValue::Integer(i64::MAX),
                id: i64::MAX,
            },
            Position {
                value: SortValue::Text("Ünïcode \"title\" ✓".into()),
                id: 1,
            },
            Position {
                value: SortValue::Text(String::new()),
                id: 2,
            },
            Position {
                value: SortValue::Null,
                id: 3,
            },
        ]
    }

    #[test]
    fn a_sealed_cursor_opens_for_its_list_and_key() {
        let binding = query("sort=due").binding("alice");
        for position in positions() {
            let text = seal(&position, &binding, &key(1));
            assert!(text.len() < MAX_CURSOR_CHARS);
            assert!(
                text.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            );
            let cursor = Cursor::parse(&text).unwrap();
            assert!(cursor.is_sealed_by(&key(1)));
            assert!(!cursor.is_sealed_by(&key(2)));
            let sort = match position.value {
                SortValue::Text(_) => SortKey::Title,
                _ => SortKey::Due,
            };
            assert_eq!(
                cursor.position_for(&binding, sort.value_kind()),
                Ok(&position)
            );
        }
    }

    #[test]
    fn the_longest_title_fits() {
        let title = "𝄞".repeat(200);
        let position = Position {
            value: SortValue::Text(title.clone()),
            id: i64::MAX,
        };
        let text = seal(&position, &query("").binding("u"), &key(0));
        assert!(text.len() <= MAX_CURSOR_CHARS, "{}", text.len());
        let cursor = Cursor::parse(&text).unwrap();
        assert_eq!(cursor.claimed_position().value, SortValue::Text(title));
    }

    #[test]
    fn every_changed_byte_is_refused() {
        let binding = query("").binding("alice");
        let position = Position {
            value: SortValue::Integer(1_700_000_000_000_000),
            id: 42,
        };
        let text = seal(&position, &binding, &key(9));
        let accepted = |text: &str| {
            Cursor::parse(text).is_ok_and(|cursor| {
                cursor.is_sealed_by(&key(9))
                    && cursor
                        .position_for(&binding, SortKey::Created.value_kind())
                        .is_ok()
            })
        };
        assert!(accepted(&text));
        let bytes = Base64UrlSafeNoPadding::decode_to_vec(&text, None).unwrap();
        for i in 0..bytes.len() {
            for flip in [1u8, 0x80] {
                let mut changed = bytes.clone();
                changed[i] ^= flip;
                let changed = Base64UrlSafeNoPadding::encode_to_string(&changed).unwrap();
                assert!(!accepted(&changed), "byte {i} ^ {flip:#x} was accepted");
            }
        }
        // Cut short or extended.
        for cut in 0..bytes.len() {
            let short = Base64UrlSafeNoPadding::encode_to_string(&bytes[..cut]).unwrap();
            assert!(!accepted(&short), "cut at {cut}");
        }
        let mut long = bytes.clone();
        long.push(0);
        let long = Base64UrlSafeNoPadding::encode_to_string(&long).unwrap();
        assert!(!accepted(&long));
    }

    /// The form `parse` checks is the document's `cursor` pattern,
    /// `^A[Q-Za-f][A-Za-z0-9_-]{2}(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-][AQgw]|[A-Za-z0-9_-]{2}[AEIMQUYcgkosw048])?$`
    /// with 56 to 1,200 characters: text of that form is a cursor, which `position_for` and
    /// `is_sealed_by` refuse when this API did not issue it (the 400); other text is not (the 422).
    #[test]
    fn the_form_is_the_documented_pattern() {
        let binding = query("").binding("alice");
        let kind = SortKey::Created.value_kind();
        for text in [
            // Opens (version 1, a missing due date, id 0), but bound to no list.
            format!("AQ{}", "A".repeat(54)),
            format!("Af{}", "_".repeat(54)),
            // 58 and 59 characters: the last one's unused bits are zero.
            format!("AQ{}w", "-".repeat(55)),
            format!("AQ{}8", "9".repeat(56)),
            format!("AZ{}", "z".repeat(1198)),
        ] {
            let cursor = Cursor::parse(&text).unwrap_or_else(|_| panic!("{text}"));
            assert!(cursor.position_for(&binding, kind).is_err(), "{text}");
            assert!(!cursor.is_sealed_by(&key(0)));
        }
        // Bytes `seal` never lays out (sort value kind 255).
        let unopened = Cursor::parse(&format!("Af{}", "_".repeat(54))).unwrap();
        assert_eq!(unopened.position_for(&binding, kind), Err(NOT_ISSUED));
        for text in [
            format!("AQ{}", "A".repeat(53)),
            format!("AQ{}", "A".repeat(1199)),
            // Not the version: `AA`…, `Ag`…, `BQ`….
            format!("AA{}", "A".repeat(54)),
            format!("Ag{}", "A".repeat(54)),
            format!("BQ{}", "A".repeat(54)),
            // 57 characters (≡ 1 mod 4), unused bits set, padding, another alphabet.
            format!("AQ{}", "A".repeat(55)),
            format!("AQ{}B", "A".repeat(55)),
            format!("AQ{}F", "A".repeat(56)),
            format!("AQ{}==", "A".repeat(54)),
            format!("AQ{}+/", "A".repeat(54)),
            format!("AQ{}.", "A".repeat(53)),
        ] {
            assert!(Cursor::parse(&text).is_err(), "{text}");
        }
        // The cursors `seal` makes have the form.
        for position in positions() {
            let text = seal(&position, &binding, &key(1));
            assert!((MIN_CURSOR_CHARS..=MAX_CURSOR_CHARS).contains(&text.len()));
            assert!(text.starts_with('A'), "{text}");
            assert!(Cursor::parse(&text).is_ok());
        }
    }

    #[test]
    fn garbage_is_refused_without_panicking() {
        for text in [
            "",
            "=",
            "%%%",
            "AAAA",
            "not a cursor",
            &"A".repeat(5000),
            "AQ",
        ] {
            assert!(Cursor::parse(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn the_binding_covers_user_filters_sort_and_order_but_not_the_page_size() {
        let base = query("status=pending&tag=a&tag=b").binding("alice");
        assert_eq!(
            base,
            query("tag=B&limit=5&status=pending&tag=a&offset=0").binding("alice")
        );
        for other in [
            "status=completed&tag=a&tag=b",
            "status=pending&tag=a",
            "status=pending&tag=a&tag=b&priority=high",
            "status=pending&tag=a&tag=b&sort=updated",
            "status=pending&tag=a&tag=b&order=asc",
            "status=pending&tag=a&tag=b&q=milk",
            "status=pending&tag=a&tag=b&overdue=false",
            "status=pending&tag=a&tag=b&due_before=2030-01-01T00:00:00Z",
            "status=pending&tag=a&tag=b&due_after=2030-01-01T00:00:00Z",
        ] {
            assert_ne!(base, query(other).binding("alice"), "{other}");
        }
        assert_ne!(base, query("status=pending&tag=a&tag=b").binding("bob"));
    }

    #[test]
    fn a_cursor_of_another_list_or_type_is_refused() {
        let mine = query("").binding("alice");
        let theirs = query("").binding("bob");
        let text = seal(
            &Position {
                value: SortValue::Integer(1),
                id: 1,
            },
            &mine,
            &key(3),
        );
        let cursor = Cursor::parse(&text).unwrap();
        assert!(
            cursor
                .position_for(&theirs, SortKey::Created.value_kind())
                .is_err()
        );
        assert!(
            cursor
                .position_for(&mine, SortKey::Title.value_kind())
                .is_err()
        );
    }
}
