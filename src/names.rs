//! File names from clients: the one rule every name goes through, on the way in (initiate,
//! one-shot uploads by path, raw body or multipart) and on the way out (`Content-Disposition`
//! and the JSON descriptors), so names stored before the rule existed are cleaned too.
//!
//! The rule, in order:
//! 1. Unicode format characters (general category Cf) are removed: bidi embeddings,
//!    overrides and isolates (U+202A–202E, U+2066–2069), the directional marks (U+200E,
//!    U+200F, U+061C), zero-width characters (U+200B–200D, U+2060–2064, U+FEFF), the soft
//!    hyphen, tags (U+E0000 block) and the rest. They are invisible, so removing them changes
//!    nothing a reader sees, and they are how `\u{202E}txt.exe` passes for `exe.txt`.
//! 2. Surrounding white space is trimmed (a trailing newline from a shell, say).
//! 3. Control characters (C0, DEL, C1), the line and paragraph separators U+2028/U+2029 and
//!    the path separators `/` and `\` become `_`, so the rest of the name stays readable.
//! 4. What is left must be neither empty nor `.` or `..`, and at most 255 characters.

/// The longest name kept, in characters (not bytes).
pub const MAX_CHARS: usize = 255;

/// The name given out for a stored name that the rule leaves nothing of.
pub const FALLBACK: &str = "download";

/// Why a name was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Nothing usable is left: the name was empty, white space, control, format or separator
    /// characters only, or `.` or `..`.
    #[error("must keep at least one visible character once control, format and separator characters are handled, and must not be . or ..")]
    Empty,
    /// Longer than [`MAX_CHARS`] once cleaned.
    #[error("must be at most 255 characters")]
    TooLong,
}

/// The ranges of general category Cf (format), Unicode 15.0 to 17.0.
const FORMAT: &[(u32, u32)] = &[
    (0x00AD, 0x00AD),
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x180E, 0x180E),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
];

/// True for a Unicode format character (general category Cf).
pub fn is_format(c: char) -> bool {
    let c = c as u32;
    FORMAT
        .binary_search_by(|&(lo, hi)| {
            if hi < c {
                std::cmp::Ordering::Less
            } else if lo > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// True for a character the rule replaces with `_`.
fn is_replaced(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '/' | '\\')
}

/// Steps 1–3 of the rule, without the checks.
fn clean(raw: &str) -> String {
    let visible: String = raw.chars().filter(|&c| !is_format(c)).collect();
    visible
        .trim()
        .chars()
        .map(|c| if is_replaced(c) { '_' } else { c })
        .collect()
}

fn is_unusable(name: &str) -> bool {
    name.is_empty() || name == "." || name == ".."
}

/// A client's file name under the rule, or why it is refused.
pub fn sanitize(raw: &str) -> Result<String, NameError> {
    let name = clean(raw);
    if is_unusable(&name) {
        return Err(NameError::Empty);
    }
    if name.chars().count() > MAX_CHARS {
        return Err(NameError::TooLong);
    }
    Ok(name)
}

/// A stored name as it is given out: under the rule, cut to [`MAX_CHARS`], and
/// [`FALLBACK`] when nothing is left. Records written before the rule may hold anything.
pub fn for_output(stored: &str) -> String {
    match sanitize(stored) {
        Ok(name) => name,
        Err(NameError::TooLong) => {
            let cut: String = clean(stored).chars().take(MAX_CHARS).collect();
            // Cutting may leave white space at the end (and then only a dot or two).
            let cut = cut.trim_end();
            if is_unusable(cut) {
                FALLBACK.to_string()
            } else {
                cut.to_string()
            }
        }
        Err(NameError::Empty) => FALLBACK.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bidi_overrides_and_isolates_are_removed() {
        assert_eq!(sanitize("\u{202E}txt.exe").unwrap(), "txt.exe");
        assert_eq!(
            sanitize("invoice\u{202E}fdp.exe").unwrap(),
            "invoicefdp.exe"
        );
        // RLO, LRI, PDI, RLE, PDF, LRM, RLM, ALM.
        assert_eq!(
            sanitize("\u{202B}a\u{2066}b\u{2069}c\u{202A}d\u{202C}e\u{200E}f\u{200F}g\u{061C}h")
                .unwrap(),
            "abcdefgh"
        );
        assert_eq!(sanitize("\u{2067}x\u{2068}y").unwrap(), "xy");
    }

    #[test]
    fn zero_width_and_other_invisible_format_characters_are_removed() {
        // ZWSP, ZWNJ, ZWJ, word joiner, invisible plus, BOM, soft hyphen.
        assert_eq!(
            sanitize("a\u{200B}b\u{200C}c\u{200D}d\u{2060}e\u{2064}f\u{FEFF}g\u{AD}h").unwrap(),
            "abcdefgh"
        );
        // Tag characters (the U+E0000 block) and the Mongolian vowel separator.
        assert_eq!(
            sanitize("x\u{E0001}\u{E0041}\u{E007F}\u{180E}.txt").unwrap(),
            "x.txt"
        );
        // The neighbours of the ranges are not format characters.
        for c in ['\u{2065}', '\u{2010}', '\u{FEFE}', '\u{E0000}', '\u{E0080}'] {
            assert!(!is_format(c), "{c:?}");
        }
        for c in [
            '\u{2066}',
            '\u{206F}',
            '\u{E0020}',
            '\u{1343F}',
            '\u{1D17A}',
        ] {
            assert!(is_format(c), "{c:?}");
        }
    }

    #[test]
    fn the_format_table_is_sorted_and_disjoint() {
        for w in FORMAT.windows(2) {
            assert!(w[0].0 <= w[0].1 && w[0].1 < w[1].0, "{w:x?}");
        }
        let count: u32 = FORMAT.iter().map(|(lo, hi)| hi - lo + 1).sum();
        assert_eq!(count, 170, "Unicode 15-17 have 170 Cf code points");
    }

    #[test]
    fn controls_and_separators_become_underscores() {
        for (input, want) in [
            ("a\0b.txt", "a_b.txt"),
            ("a\r\nb", "a__b"),
            ("tab\there\u{7f}\u{85}\u{9f}.bin", "tab_here___.bin"),
            ("one\u{2028}two\u{2029}", "one_two"),
            ("../../etc/passwd", ".._.._etc_passwd"),
            ("a\\b", "a_b"),
            ("\0", "_"),
        ] {
            assert_eq!(sanitize(input).unwrap(), want, "{input:?}");
        }
    }

    #[test]
    fn surrounding_white_space_is_trimmed() {
        for (input, want) in [
            ("  notes.txt \n", "notes.txt"),
            ("\u{FEFF} a.txt", "a.txt"),
            ("\r\nname\r\n", "name"),
            ("in side.txt", "in side.txt"),
        ] {
            assert_eq!(sanitize(input).unwrap(), want, "{input:?}");
        }
    }

    #[test]
    fn letters_emoji_and_punctuation_are_kept() {
        for name in [
            "résumé.pdf",
            "Größe – Ü.txt",
            "日本語のファイル.txt",
            "📄 report 🎉.pdf",
            "a\"b'c<d>e|f?g*h:i.txt",
            "...",
            ".hidden",
        ] {
            assert_eq!(sanitize(name).unwrap(), name);
        }
        // An emoji sequence keeps its look, less the joiner: 👨‍👩‍👧 becomes three faces.
        assert_eq!(
            sanitize("👨\u{200D}👩\u{200D}👧.png").unwrap(),
            "👨👩👧.png"
        );
    }

    #[test]
    fn names_with_nothing_usable_are_refused() {
        for raw in [
            "",
            " ",
            "\r\n",
            "\t \u{2028}",
            "\u{202E}",
            "\u{200B}\u{FEFF}",
            ".",
            "..",
            " .. ",
            "\u{202E}..",
        ] {
            assert_eq!(sanitize(raw), Err(NameError::Empty), "{raw:?}");
            assert_eq!(for_output(raw), FALLBACK, "{raw:?}");
        }
    }

    #[test]
    fn the_limit_counts_characters_after_cleaning() {
        assert!(sanitize(&"x".repeat(255)).is_ok());
        assert!(sanitize(&"é".repeat(255)).is_ok());
        assert_eq!(sanitize(&"x".repeat(256)), Err(NameError::TooLong));
        // Removed characters do not count.
        let padded = format!("{}{}", "\u{200B}".repeat(100), "x".repeat(255));
        assert_eq!(sanitize(&padded).unwrap(), "x".repeat(255));
        // Given out, a long stored name is cut.
        assert_eq!(for_output(&"y".repeat(400)), "y".repeat(255));
        let spaced = format!("{} {}", "z".repeat(254), "tail");
        assert_eq!(for_output(&spaced), "z".repeat(254));
        let dot = format!(".{}x", " ".repeat(300));
        assert_eq!(for_output(&dot), FALLBACK);
    }

    #[test]
    fn output_applies_the_same_rule() {
        assert_eq!(for_output("\u{202E}txt.exe"), "txt.exe");
        assert_eq!(for_output("a\0b"), "a_b");
        assert_eq!(for_output("plain.txt"), "plain.txt");
    }
}
