//! tokenizer.json: text into token ids, and each id into a label a person can read.
//!
//! A label is the text the token decodes to on its own, with two things made visible: a leading
//! space becomes `␣` (byte-level BPE writes it as `Ġ`: MiniMind's `Ġcat` is shown as `␣cat`),
//! and control characters become escapes (`\n`, `\u{1b}`) through [`crate::text::printable_line`].
//! A token that is only part of a UTF-8 character (byte-level BPE splits many CJK characters)
//! decodes to nothing readable, so it is shown as its bytes (`\xe4\xb8`). An id the tokenizer does
//! not know (a row of the embedding no text maps to) is shown as `<id 97>`.

use std::path::Path;

use tokenizers::Tokenizer;

use super::error::CheckpointError;

/// The loaded tokenizer.
pub struct TextTokenizer {
    inner: Tokenizer,
}

impl TextTokenizer {
    /// Parses tokenizer.json's bytes (`path` only names the file in messages) and checks that
    /// every id it can produce has a row in an embedding of `vocab_size` rows.
    pub fn parse(
        bytes: &[u8],
        path: &Path,
        vocab_size: usize,
    ) -> Result<TextTokenizer, CheckpointError> {
        let inner = Tokenizer::from_bytes(bytes).map_err(|e| CheckpointError::Tokenizer {
            path: path.into(),
            reason: e.to_string(),
        })?;
        let vocab = inner.get_vocab(true);
        let max_id = vocab.values().copied().max().unwrap_or(0);
        if vocab.len() > vocab_size || max_id as usize >= vocab_size {
            return Err(CheckpointError::TokenizerTooBig {
                tokens: vocab.len(),
                max_id,
                vocab_size,
            });
        }
        Ok(TextTokenizer { inner })
    }

    /// The ids of `text`, as `tokenizer(text)` gives them in Python (special tokens the
    /// tokenizer adds on its own included; MiniMind's adds none).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, CheckpointError> {
        let encoding = self
            .inner
            .encode(text, true)
            .map_err(|e| CheckpointError::Tokenizer {
                path: "tokenizer.json".into(),
                reason: e.to_string(),
            })?;
        Ok(encoding.get_ids().to_vec())
    }

    /// The readable label of one id (see the module documentation).
    pub fn label(&self, id: u32) -> String {
        let Some(token) = self.inner.id_to_token(id) else {
            return format!("<id {id}>");
        };
        let piece = self.inner.decode(&[id], false).unwrap_or_default();
        let piece = if piece.contains('\u{fffd}') && !token.contains('\u{fffd}') {
            byte_level_bytes(&token).map_or(piece, |bytes| escape_bytes(&bytes))
        } else if piece.is_empty() {
            token
        } else {
            piece
        };
        label_text(&piece)
    }
}

/// Marks leading spaces with `␣` and makes control characters visible.
pub fn label_text(piece: &str) -> String {
    let rest = piece.trim_start_matches(' ');
    let spaces = piece.len() - rest.len();
    format!(
        "{}{}",
        "␣".repeat(spaces),
        crate::text::printable_line(rest)
    )
}

/// The bytes a byte-level BPE token stands for, undoing GPT-2's byte-to-character table
/// (printable Latin-1 bytes stand for themselves; the other 68 bytes are 256, 257, … in order).
/// `None` if the token has a character outside that table.
fn byte_level_bytes(token: &str) -> Option<Vec<u8>> {
    let stands_for_itself = |b: u32| {
        (0x21..=0x7e).contains(&b) || (0xa1..=0xac).contains(&b) || (0xae..=0xff).contains(&b)
    };
    let shifted: Vec<u8> = (0u32..256)
        .filter(|&b| !stands_for_itself(b))
        .map(|b| b as u8)
        .collect();
    token
        .chars()
        .map(|c| {
            let c = c as u32;
            if stands_for_itself(c) {
                Some(c as u8)
            } else {
                c.checked_sub(256)
                    .and_then(|i| shifted.get(i as usize).copied())
            }
        })
        .collect()
}

/// Raw bytes as text: the valid UTF-8 parts as they are, every other byte as `\xNN`.
fn escape_bytes(bytes: &[u8]) -> String {
    bytes
        .utf8_chunks()
        .map(|chunk| {
            let bad: String = chunk
                .invalid()
                .iter()
                .map(|b| format!("\\x{b:02x}"))
                .collect();
            format!("{}{bad}", chunk.valid())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leading_spaces_and_controls_are_visible() {
        assert_eq!(label_text(" cat"), "␣cat");
        assert_eq!(label_text("  "), "␣␣");
        assert_eq!(label_text("a b"), "a b");
        assert_eq!(label_text("\n"), "\\n");
        assert_eq!(label_text(" \u{1b}[2J"), "␣\\u{1b}[2J");
    }

    #[test]
    fn byte_level_tokens_map_back_to_bytes() {
        // GPT-2's table: 'Ġ' (U+0120) is byte 0x20, 'Ċ' (U+010A) is 0x0a, 'ä' stands for 0xe4.
        assert_eq!(byte_level_bytes("Ġcat"), Some(b" cat".to_vec()));
        assert_eq!(byte_level_bytes("Ċ"), Some(vec![0x0a]));
        assert_eq!(byte_level_bytes("ä¸"), Some(vec![0xe4, 0xb8]));
        assert_eq!(byte_level_bytes("中"), None);
        // "中" is e4 b8 ad: its first two bytes alone are not a character.
        assert_eq!(escape_bytes(&[0xe4, 0xb8]), "\\xe4\\xb8");
        assert_eq!(escape_bytes(&[b'a', 0xe4, 0xb8, 0xad]), "a中");
    }
}
