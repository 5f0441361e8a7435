//! A Unicode-aware word tokeniser: lower-cases, splits on anything that is not a letter, a digit
//! or a combining mark after a letter, optionally keeps apostrophes inside words, drops stop words
//! and adds bigrams.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::text::compose::{compose, is_combining_mark};

/// A small English stop-list (articles, pronouns, auxiliaries, prepositions, conjunctions).
/// Negations such as "not" and "no" are deliberately absent: they carry sentiment.
pub const ENGLISH_STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "been", "but", "by", "for", "from", "had", "has", "have", "he", "her", "his", "i", "in",
    "into", "is", "it", "its", "me", "my", "of", "on", "or", "our", "she", "so", "than", "that", "the", "their", "them", "then", "there",
    "these", "they", "this", "those", "to", "was", "we", "were", "what", "when", "which", "who", "will", "with", "you", "your",
];

/// Splits text into terms. Serialisable, so a saved model tokenises new text exactly as its
/// training text was.
///
/// Terms are maximal runs of alphanumeric characters (Unicode letters and digits, so "café",
/// "über" and "naïve" are single words) and of the combining marks that follow them (U+0300–U+036F,
/// U+1AB0–U+1AFF, U+1DC0–U+1DFF, U+20D0–U+20FF, U+FE20–U+FE2F), lower-cased with full Unicode
/// case mapping. A Latin letter followed by a combining accent is composed into its precomposed
/// form, so decomposed text ("cafe\u{301}", as some macOS tools write it) gives the same terms as
/// precomposed text ("café"); this is Unicode's NFC for Latin letters, not a full normalisation.
/// Bigrams join two consecutive kept words with `_`, which never occurs inside a word, so unigrams
/// and bigrams cannot collide.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tokenizer {
    lowercase: bool,
    keep_apostrophes: bool,
    bigrams: bool,
    stop_words: BTreeSet<String>,
}

impl Default for Tokenizer {
    fn default() -> Self {
        Self { lowercase: true, keep_apostrophes: false, bigrams: false, stop_words: BTreeSet::new() }
    }
}

impl Tokenizer {
    /// The default tokeniser: lower-casing, no apostrophes, no bigrams, no stop words.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether to lower-case terms. Default `true`.
    pub fn lowercase(mut self, yes: bool) -> Self {
        self.lowercase = yes;
        self
    }

    /// Whether an apostrophe (`'` or `’`) between two letters stays inside the word
    /// ("don't" rather than "don", "t"); `’` is normalised to `'`. Default `false`.
    pub fn keep_apostrophes(mut self, yes: bool) -> Self {
        self.keep_apostrophes = yes;
        self
    }

    /// Whether to add the bigrams of consecutive kept words after the unigrams. Default `false`.
    pub fn bigrams(mut self, yes: bool) -> Self {
        self.bigrams = yes;
        self
    }

    /// Words to drop (compared after lower-casing, before forming bigrams). Default: none;
    /// [`ENGLISH_STOP_WORDS`] is a ready-made list.
    pub fn stop_words<S: AsRef<str>>(mut self, words: impl IntoIterator<Item = S>) -> Self {
        self.stop_words = words.into_iter().map(|w| w.as_ref().to_lowercase()).collect();
        self
    }

    /// The words of `text`, without bigrams or stop-word removal.
    pub fn words(&self, text: &str) -> Vec<String> {
        let chars: Vec<char> = text.chars().collect();
        let mut out = Vec::new();
        let mut cur = String::new();
        for (i, &c) in chars.iter().enumerate() {
            if c.is_alphanumeric() {
                if self.lowercase {
                    cur.extend(c.to_lowercase());
                } else {
                    cur.push(c);
                }
            } else if is_combining_mark(c) && !cur.is_empty() {
                // A decomposed accent belongs to the letter before it; compose the pair where
                // Unicode has a precomposed letter, so "re\u{301}sume\u{301}" and "résumé" are
                // one term.
                match cur.chars().next_back().and_then(|base| compose(base, c)) {
                    Some(composed) => {
                        cur.pop();
                        cur.push(composed);
                    }
                    None => cur.push(c),
                }
            } else if self.keep_apostrophes
                && (c == '\'' || c == '’')
                && !cur.is_empty()
                && chars.get(i + 1).is_some_and(|n| n.is_alphanumeric())
            {
                cur.push('\'');
            } else if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
        }
        if !cur.is_empty() {
            out.push(cur);
        }
        out
    }

    /// The terms of `text`: its words minus stop words, followed by their bigrams if enabled.
    pub fn tokenize(&self, text: &str) -> Vec<String> {
        let mut words = self.words(text);
        if !self.stop_words.is_empty() {
            words.retain(|w| !self.stop_words.contains(w));
        }
        if self.bigrams {
            let pairs: Vec<String> = words.windows(2).map(|p| format!("{}_{}", p[0], p[1])).collect();
            words.extend(pairs);
        }
        words
    }
}
