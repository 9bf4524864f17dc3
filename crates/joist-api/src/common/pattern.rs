//! Matching of the `pattern:` regular expressions found in CRD schemas.
//!
//! The API server checks `pattern` with Go's RE2 engine: unanchored search, `.` excludes `\n`,
//! `$` is the absolute end of the text, `\s` is ASCII whitespace. joist must accept and reject
//! exactly the same strings, so rather than hand-translating each pattern it parses the pattern
//! text itself (with `regex-syntax`, in byte mode without Unicode classes, which gives RE2's ASCII
//! semantics) and runs it on a small Thompson NFA simulation. The simulation is linear in the
//! input, so patterns like `(.+)\s(.+)\s(.+)\s(.+)\s(.+)` cannot blow up on long values.

use regex_syntax::ParserBuilder;
use regex_syntax::hir::{Class, Hir, HirKind, Look};
use thiserror::Error;

/// Why a pattern could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PatternError {
    /// The pattern is not valid regular-expression syntax.
    #[error("invalid pattern {pattern:?}: {reason}")]
    Syntax {
        /// The pattern text.
        pattern: String,
        /// The parser's explanation.
        reason: String,
    },
    /// The pattern uses a construct this matcher does not implement (word boundaries, line
    /// anchors in multi-line mode); none of the CRD patterns need them.
    #[error("unsupported construct in pattern {pattern:?}: {construct}")]
    Unsupported {
        /// The pattern text.
        pattern: String,
        /// What was not supported.
        construct: String,
    },
}

/// One NFA instruction.
#[derive(Debug, Clone)]
enum Inst {
    /// Consume one byte within any of these inclusive ranges.
    Byte(Vec<(u8, u8)>),
    /// Continue at both targets.
    Split(usize, usize),
    /// Continue at the target.
    Jump(usize),
    /// Only at offset 0.
    AssertStart,
    /// Only at the end of the input.
    AssertEnd,
    /// The pattern matched.
    Match,
}

/// A compiled pattern; cheap to run many times.
#[derive(Debug, Clone)]
pub struct Pattern {
    source: String,
    program: Vec<Inst>,
}

impl Pattern {
    /// Compiles `pattern` (RE2 syntax as used in CRD schemas).
    pub fn new(pattern: &str) -> Result<Self, PatternError> {
        let hir = ParserBuilder::new()
            .unicode(false)
            .utf8(false)
            .build()
            .parse(pattern)
            .map_err(|e| PatternError::Syntax {
                pattern: pattern.to_owned(),
                reason: e.to_string(),
            })?;
        let mut compiler = Compiler {
            program: Vec::new(),
            pattern,
        };
        compiler.compile(&hir)?;
        compiler.program.push(Inst::Match);
        Ok(Self {
            source: pattern.to_owned(),
            program: compiler.program,
        })
    }

    /// The pattern text this was compiled from.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the pattern matches anywhere in `input` (RE2 `MatchString` semantics).
    pub fn is_match(&self, input: &str) -> bool {
        let bytes = input.as_bytes();
        let mut current = ThreadSet::new(self.program.len());
        let mut next = ThreadSet::new(self.program.len());
        for pos in 0..=bytes.len() {
            // Unanchored search: a new thread may start at every offset.
            self.add_thread(&mut current, 0, pos, bytes.len());
            if current
                .pcs
                .iter()
                .any(|&pc| matches!(self.program[pc], Inst::Match))
            {
                return true;
            }
            let Some(&byte) = bytes.get(pos) else { break };
            next.clear();
            for &pc in &current.pcs {
                if let Inst::Byte(ranges) = &self.program[pc]
                    && ranges.iter().any(|&(lo, hi)| lo <= byte && byte <= hi)
                {
                    self.add_thread(&mut next, pc + 1, pos + 1, bytes.len());
                }
            }
            std::mem::swap(&mut current, &mut next);
        }
        false
    }

    /// Adds `pc` and everything reachable from it without consuming input.
    fn add_thread(&self, set: &mut ThreadSet, pc: usize, pos: usize, len: usize) {
        let mut stack = vec![pc];
        while let Some(pc) = stack.pop() {
            if !set.insert(pc) {
                continue;
            }
            match self.program[pc] {
                Inst::Jump(to) => stack.push(to),
                Inst::Split(a, b) => {
                    stack.push(b);
                    stack.push(a);
                }
                Inst::AssertStart if pos == 0 => stack.push(pc + 1),
                Inst::AssertEnd if pos == len => stack.push(pc + 1),
                Inst::AssertStart | Inst::AssertEnd | Inst::Byte(_) | Inst::Match => {}
            }
        }
    }
}

/// The set of live NFA states, with O(1) membership.
struct ThreadSet {
    pcs: Vec<usize>,
    member: Vec<bool>,
}

impl ThreadSet {
    fn new(size: usize) -> Self {
        Self {
            pcs: Vec::with_capacity(size),
            member: vec![false; size],
        }
    }

    fn insert(&mut self, pc: usize) -> bool {
        if self.member[pc] {
            return false;
        }
        self.member[pc] = true;
        self.pcs.push(pc);
        true
    }

    fn clear(&mut self) {
        for &pc in &self.pcs {
            self.member[pc] = false;
        }
        self.pcs.clear();
    }
}

// === impl Compiler ===

struct Compiler<'a> {
    program: Vec<Inst>,
    pattern: &'a str,
}

impl Compiler<'_> {
    fn unsupported(&self, construct: &str) -> PatternError {
        PatternError::Unsupported {
            pattern: self.pattern.to_owned(),
            construct: construct.to_owned(),
        }
    }

    fn compile(&mut self, hir: &Hir) -> Result<(), PatternError> {
        match hir.kind() {
            HirKind::Empty => {}
            HirKind::Literal(literal) => {
                for &b in literal.0.iter() {
                    self.program.push(Inst::Byte(vec![(b, b)]));
                }
            }
            HirKind::Class(Class::Bytes(class)) => {
                let ranges = class
                    .ranges()
                    .iter()
                    .map(|r| (r.start(), r.end()))
                    .collect();
                self.program.push(Inst::Byte(ranges));
            }
            HirKind::Class(Class::Unicode(class)) => {
                // Byte mode only yields Unicode classes for pure-ASCII sets.
                let mut ranges = Vec::new();
                for r in class.ranges() {
                    let (lo, hi) = (u8::try_from(r.start()), u8::try_from(r.end()));
                    match (lo, hi) {
                        (Ok(lo), Ok(hi)) if hi < 0x80 => ranges.push((lo, hi)),
                        _ => return Err(self.unsupported("non-ASCII character class")),
                    }
                }
                self.program.push(Inst::Byte(ranges));
            }
            HirKind::Look(Look::Start) => self.program.push(Inst::AssertStart),
            HirKind::Look(Look::End) => self.program.push(Inst::AssertEnd),
            HirKind::Look(look) => return Err(self.unsupported(&format!("{look:?}"))),
            HirKind::Capture(capture) => self.compile(&capture.sub)?,
            HirKind::Concat(subs) => {
                for sub in subs {
                    self.compile(sub)?;
                }
            }
            HirKind::Alternation(subs) => self.compile_alternation(subs)?,
            HirKind::Repetition(rep) => self.compile_repetition(&rep.sub, rep.min, rep.max)?,
        }
        Ok(())
    }

    fn compile_alternation(&mut self, subs: &[Hir]) -> Result<(), PatternError> {
        let mut jumps_to_end = Vec::new();
        for (i, sub) in subs.iter().enumerate() {
            if i + 1 == subs.len() {
                self.compile(sub)?;
                break;
            }
            let split = self.placeholder();
            self.compile(sub)?;
            jumps_to_end.push(self.placeholder());
            let next = self.program.len();
            self.program[split] = Inst::Split(split + 1, next);
        }
        let end = self.program.len();
        for jump in jumps_to_end {
            self.program[jump] = Inst::Jump(end);
        }
        Ok(())
    }

    fn compile_repetition(
        &mut self,
        sub: &Hir,
        min: u32,
        max: Option<u32>,
    ) -> Result<(), PatternError> {
        for _ in 0..min {
            self.compile(sub)?;
        }
        match max {
            None => {
                // loop: split(body, exit); body; jump loop
                let split = self.placeholder();
                self.compile(sub)?;
                self.program.push(Inst::Jump(split));
                let exit = self.program.len();
                self.program[split] = Inst::Split(split + 1, exit);
            }
            Some(max) => {
                let mut splits = Vec::new();
                for _ in min..max {
                    splits.push(self.placeholder());
                    self.compile(sub)?;
                }
                let exit = self.program.len();
                for split in splits {
                    self.program[split] = Inst::Split(split + 1, exit);
                }
            }
        }
        Ok(())
    }

    /// Reserves an instruction slot to be patched once its targets are known.
    fn placeholder(&mut self) -> usize {
        self.program.push(Inst::Match);
        self.program.len() - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, input: &str) -> bool {
        Pattern::new(pattern).unwrap().is_match(input)
    }

    #[test]
    fn anchored_patterns_match_whole_strings_only() {
        let p = r"^([0-9]+(s|m|h))+$";
        assert!(matches(p, "1h30m"));
        assert!(matches(p, "720h"));
        assert!(!matches(p, "1h30"));
        assert!(!matches(p, "-1s"));
        assert!(!matches(p, ""));
    }

    #[test]
    fn unanchored_alternatives_follow_re2_search_semantics() {
        // Upstream's schedule pattern anchors only the first alternative at the start and the
        // second at the end, so "@dailyX" and "x a b c d" both pass.
        let p = r"^(@(annually|yearly|monthly|weekly|daily|midnight|hourly))|((.+)\s(.+)\s(.+)\s(.+)\s(.+))$";
        assert!(matches(p, "@daily"));
        assert!(matches(p, "@dailyX"));
        assert!(matches(p, "0 9 * * mon-fri"));
        assert!(!matches(p, "* * * * "));
        assert!(!matches(p, "*"));
        assert!(!matches(p, "@every 5m"));
    }

    #[test]
    fn bounded_repetition_and_classes() {
        let p = r"^((100|[0-9]{1,2})%|[0-9]+)$";
        assert!(matches(p, "10%"));
        assert!(matches(p, "100%"));
        assert!(matches(p, "0"));
        assert!(matches(p, "1000"));
        assert!(!matches(p, "101%"));
        assert!(!matches(p, "1000%"));
        assert!(!matches(p, "-10%"));
    }

    #[test]
    fn dot_does_not_match_newline_and_dollar_is_absolute_end() {
        assert!(!matches(r"^a.b$", "a\nb"));
        assert!(!matches(r"^ab$", "ab\n"));
        assert!(matches(r"^[^/]*$", "karpenter.k8s.aws"));
        assert!(!matches(r"^[^/]*$", "karpenter.k8s.aws/v1"));
    }

    #[test]
    fn long_inputs_stay_linear() {
        let p = r"((.+)\s(.+)\s(.+)\s(.+)\s(.+))$";
        let long = "x".repeat(20_000);
        assert!(!matches(p, &long));
    }

    #[test]
    fn rejects_unsupported_constructs() {
        assert!(matches!(
            Pattern::new(r"\bfoo"),
            Err(PatternError::Unsupported { .. })
        ));
        assert!(matches!(
            Pattern::new(r"(unclosed"),
            Err(PatternError::Syntax { .. })
        ));
    }
}
