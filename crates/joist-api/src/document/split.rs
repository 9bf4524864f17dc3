//! Splitting a YAML stream into documents without losing where each one starts.
//!
//! The split is line based, like kubectl's own YAML reader, because YAML forbids a `---` or `...`
//! marker at column 0 inside any scalar: such a line always ends the current document. Working on
//! lines lets every later error say which document and which input line it is about, and lets one
//! broken document be reported without hiding the others.

use super::{Document, DocumentError, Position};

/// How a line takes part in the document structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LineKind {
    /// `---`, alone or followed by a comment.
    BareStart,
    /// `---` followed by content on the same line (`--- {a: 1}`, `--- |`).
    StartWithContent,
    /// `...`: the end of the current document.
    End,
    /// Blank or comment only.
    Blank,
    /// A `%YAML` / `%TAG` directive (only meaningful before `---`).
    Directive,
    /// Anything else: document content.
    Content,
}

fn classify(line: &str) -> LineKind {
    let marker_rest = |marker: &str| {
        line.strip_prefix(marker)
            .filter(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
    };
    if let Some(rest) = marker_rest("---") {
        let rest = rest.trim_start_matches([' ', '\t']);
        return if rest.is_empty() || rest.starts_with('#') {
            LineKind::BareStart
        } else {
            LineKind::StartWithContent
        };
    }
    if marker_rest("...").is_some() {
        return LineKind::End;
    }
    let trimmed = line.trim_start_matches([' ', '\t']);
    if trimmed.is_empty() || trimmed.starts_with('#') {
        LineKind::Blank
    } else if line.starts_with('%') {
        LineKind::Directive
    } else {
        LineKind::Content
    }
}

/// One input line: its text without the line break, and byte offsets of its start and of the
/// start of the next line.
#[derive(Debug, Clone, Copy)]
struct Line<'a> {
    text: &'a str,
    start: usize,
    next: usize,
}

/// Iterates over lines, breaking where libyaml does (LF, CRLF, CR, NEL, LS, PS) so that our line
/// numbers agree with the ones in the parser's error marks.
fn lines(input: &str) -> impl Iterator<Item = Line<'_>> {
    let mut start = 0;
    std::iter::from_fn(move || {
        if start >= input.len() {
            return None;
        }
        let rest = &input[start..];
        let line = match rest.char_indices().find(|&(_, c)| is_line_break(c)) {
            Some((at, c)) => {
                let mut next = start + at + c.len_utf8();
                if c == '\r' && input[next..].starts_with('\n') {
                    next += 1;
                }
                Line {
                    text: &rest[..at],
                    start,
                    next,
                }
            }
            None => Line {
                text: rest,
                start,
                next: input.len(),
            },
        };
        start = line.next;
        Some(line)
    })
}

fn is_line_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// The number of lines libyaml counts before byte `offset` of `input`, plus one.
pub(super) fn line_of_offset(input: &str, offset: usize) -> usize {
    let ends_with_break = |line: &Line<'_>| line.next > line.start + line.text.len();
    1 + lines(input)
        .take_while(|line| line.next <= offset)
        .filter(ends_with_break)
        .count()
}

/// A document being collected.
#[derive(Debug)]
struct Pending {
    /// Byte offset where its text starts.
    start: usize,
    /// Input line of `start`.
    first_line: usize,
    /// First line with content, once seen; `None` means the document is still empty.
    content_line: Option<usize>,
    /// Whether a `---` already opened it (a second one starts another document).
    opened: bool,
    /// Whether directives precede it (they must stay attached to the following `---`).
    has_directive: bool,
}

impl Pending {
    fn at(start: usize, first_line: usize) -> Self {
        Self {
            start,
            first_line,
            content_line: None,
            opened: false,
            has_directive: false,
        }
    }
}

/// Splits `input` into its non-empty documents, numbered from 1 in input order.
///
/// Empty documents (only comments, blank lines or markers) are skipped and not numbered, so the
/// numbers count the objects a user sees.
pub fn split<'a>(input: &'a str) -> Vec<Document<'a>> {
    let mut documents = Vec::new();
    let mut pending = Pending::at(0, 1);
    let mut line_count = 0;
    let finish =
        |pending: &Pending, end: usize, last_line: usize, documents: &mut Vec<Document<'a>>| {
            if let Some(start_line) = pending.content_line {
                documents.push(Document {
                    number: documents.len() + 1,
                    start_line,
                    first_line: pending.first_line,
                    last_line,
                    text: &input[pending.start..end],
                });
            }
        };
    for (index, line) in lines(input).enumerate() {
        let line_number = index + 1;
        line_count = line_number;
        match classify(line.text) {
            kind @ (LineKind::BareStart | LineKind::StartWithContent) => {
                let had_content = pending.content_line.is_some();
                finish(&pending, line.start, line_number - 1, &mut documents);
                if had_content || pending.opened || !pending.has_directive {
                    pending = Pending::at(line.start, line_number);
                }
                pending.opened = true;
                if kind == LineKind::StartWithContent {
                    pending.content_line = Some(line_number);
                }
            }
            LineKind::End => {
                finish(&pending, line.next, line_number, &mut documents);
                pending = Pending::at(line.next, line_number + 1);
            }
            LineKind::Blank => {}
            LineKind::Directive if pending.content_line.is_none() && !pending.opened => {
                pending.has_directive = true;
            }
            LineKind::Directive | LineKind::Content => {
                pending.content_line.get_or_insert(line_number);
            }
        }
    }
    finish(&pending, input.len(), line_count, &mut documents);
    documents
}

/// Checks that `input` is UTF-8 text, drops a leading byte-order mark and splits it.
pub fn split_bytes(input: &[u8]) -> Result<Vec<Document<'_>>, DocumentError> {
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    match std::str::from_utf8(input) {
        Ok(text) => Ok(split(text)),
        Err(error) => {
            let valid_up_to = error.valid_up_to();
            // Proven valid by `valid_up_to` just above, so this slice cannot fail.
            let valid = std::str::from_utf8(&input[..valid_up_to]).unwrap_or_default();
            let line = line_of_offset(valid, valid_up_to);
            // A stand-in character where the bad byte is tells which document it belongs to:
            // the one it continues, or a new one if a marker just closed the previous one.
            let with_stand_in = format!("{valid}x");
            let document = split(&with_stand_in).last().map_or(1, |last| last.number);
            Err(DocumentError::NotUtf8 {
                at: Position { document, line },
                byte: input[valid_up_to],
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (number, start line, first line, text) of every document.
    fn parts(input: &str) -> Vec<(usize, usize, usize, &str)> {
        split(input)
            .into_iter()
            .map(|d| (d.number, d.start_line, d.first_line, d.text))
            .collect()
    }

    #[test]
    fn separators_comments_and_empty_documents() {
        let input = "# leading comment\n---\na: 1\n---\n# only a comment\n---\n\n---\nb: 2\n";
        assert_eq!(
            parts(input),
            vec![(1, 3, 2, "---\na: 1\n"), (2, 9, 8, "---\nb: 2\n")],
        );
    }

    #[test]
    fn a_document_without_markers_starts_at_its_first_content_line() {
        assert_eq!(
            parts("\n# c\nkind: X\n"),
            vec![(1, 3, 1, "\n# c\nkind: X\n")]
        );
        assert!(split("").is_empty());
        assert!(split("# nothing\n---\n...\n").is_empty());
    }

    #[test]
    fn end_markers_close_documents_and_implicit_documents_follow() {
        let input = "a: 1\n...\nb: 2\n...\n# trailing\n";
        assert_eq!(
            parts(input),
            vec![(1, 1, 1, "a: 1\n...\n"), (2, 3, 3, "b: 2\n...\n")]
        );
    }

    #[test]
    fn markers_must_be_followed_by_whitespace() {
        assert_eq!(
            parts("a: |\n  x\n----\n"),
            vec![(1, 1, 1, "a: |\n  x\n----\n")]
        );
        assert_eq!(parts("--- # c\nx: 1\n---\t\ny: 2").len(), 2);
        assert_eq!(
            parts("--- {a: 1}\n--- |\n  text\n"),
            vec![(1, 1, 1, "--- {a: 1}\n"), (2, 2, 2, "--- |\n  text\n"),]
        );
    }

    #[test]
    fn documents_know_their_last_line() {
        let last_lines: Vec<usize> = split("a: 1\n\n---\nb: 2\n...\n# c\nc: 3")
            .iter()
            .map(|d| d.last_line)
            .collect();
        assert_eq!(last_lines, vec![2, 5, 7]);
    }

    #[test]
    fn directives_stay_with_the_document_they_introduce() {
        let input = "%YAML 1.2\n---\na: 1\n";
        assert_eq!(parts(input), vec![(1, 3, 1, input)]);
    }

    #[test]
    fn line_numbers_follow_every_line_break_libyaml_knows() {
        let input = "a: 1\r\n---\r\nb: 2\rc: 3\n---\u{2028}d: 4";
        let docs = parts(input);
        assert_eq!(
            docs.iter().map(|d| (d.0, d.1)).collect::<Vec<_>>(),
            vec![(1, 1), (2, 3), (3, 6)]
        );
        assert_eq!(line_of_offset(input, input.len()), 6);
    }

    #[test]
    fn invalid_utf8_names_document_and_line() {
        let error = split_bytes(b"a: 1\n---\nb: 2\nc: \xFF\n").unwrap_err();
        assert_eq!(
            error.to_string(),
            "document 2 (line 4): input is not UTF-8 text (byte 0xFF)"
        );
        let error = split_bytes(b"a: 1\n---\n\xC0").unwrap_err();
        assert_eq!(
            error.to_string(),
            "document 2 (line 3): input is not UTF-8 text (byte 0xC0)"
        );
        let error = split_bytes(b"\x00\x9F\x92\x96").unwrap_err();
        assert_eq!(
            error.to_string(),
            "document 1 (line 1): input is not UTF-8 text (byte 0x9F)"
        );
    }

    #[test]
    fn byte_order_mark_is_dropped() {
        let docs = split_bytes(b"\xEF\xBB\xBFa: 1\n").unwrap();
        assert_eq!(docs[0].text, "a: 1\n");
    }
}
