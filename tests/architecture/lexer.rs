//! The architecture test's lexer: Rust source to tokens, without comments, literals' contents or test code.
//!
//! Hand-written and small (no `syn`): the checks only need identifiers, `::`,
//! brackets and `;` with their line numbers, and they must also see paths
//! inside macro calls (`tracing::info!(… crate::x::y …)`), which a syntax tree
//! keeps as opaque tokens.

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An identifier or keyword (`r#type` is `type`).
    Ident,
    /// `::` or a single punctuation character.
    Punct,
    /// A string, char or number literal (its source text).
    Literal,
    /// A lifetime or label such as `'a`.
    Lifetime,
}

/// One token with the 1-based line it starts on.
#[derive(Debug, Clone)]
pub struct Tok {
    pub kind: Kind,
    pub text: String,
    pub line: usize,
}

impl Tok {
    /// Whether this is the identifier or punctuation `s` (never a literal).
    pub fn is(&self, s: &str) -> bool {
        matches!(self.kind, Kind::Ident | Kind::Punct) && self.text == s
    }
}

/// The text of token `i`, or "" past the end (so callers never index out of range).
pub fn text(t: &[Tok], i: usize) -> &str {
    match t.get(i) {
        Some(tok) if tok.kind != Kind::Literal => &tok.text,
        _ => "",
    }
}

/// Splits `src` into tokens, dropping whitespace and comments.
pub fn lex(src: &str) -> Vec<Tok> {
    let c: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let mut line = 1;
    while i < c.len() {
        let ch = c[i];
        let start = i;
        let start_line = line;
        let kind;
        if ch == '\n' {
            line += 1;
            i += 1;
            continue;
        } else if ch.is_whitespace() {
            i += 1;
            continue;
        } else if ch == '/' && at(&c, i + 1) == '/' {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
            continue;
        } else if ch == '/' && at(&c, i + 1) == '*' {
            i = block_comment_end(&c, i, &mut line);
            continue;
        } else if let Some(end) = raw_string_end(&c, i, &mut line) {
            i = end;
            kind = Kind::Literal;
        } else if ch == '"' || (matches!(ch, 'b' | 'c') && at(&c, i + 1) == '"') {
            i = quoted_end(&c, if ch == '"' { i } else { i + 1 }, '"', &mut line);
            kind = Kind::Literal;
        } else if ch == 'b' && at(&c, i + 1) == '\'' {
            i = quoted_end(&c, i + 1, '\'', &mut line);
            kind = Kind::Literal;
        } else if ch == '\'' && (at(&c, i + 1) == '\\' || at(&c, i + 2) == '\'') {
            // 'x' or '\n' / '\u{..}': a char literal; `'a` without a closing quote is a lifetime.
            i = quoted_end(&c, i, '\'', &mut line);
            kind = Kind::Literal;
        } else if ch == '\'' {
            i += 1;
            while i < c.len() && is_ident_char(c[i]) {
                i += 1;
            }
            kind = Kind::Lifetime;
        } else if ch.is_alphabetic() || ch == '_' {
            if ch == 'r' && at(&c, i + 1) == '#' {
                i += 2;
            }
            let name_start = i;
            while i < c.len() && is_ident_char(c[i]) {
                i += 1;
            }
            out.push(Tok {
                kind: Kind::Ident,
                text: c[name_start..i].iter().collect(),
                line: start_line,
            });
            continue;
        } else if ch.is_ascii_digit() {
            while i < c.len()
                && (is_ident_char(c[i]) || (c[i] == '.' && at(&c, i + 1).is_ascii_digit()))
            {
                i += 1;
            }
            kind = Kind::Literal;
        } else if ch == ':' && at(&c, i + 1) == ':' {
            i += 2;
            kind = Kind::Punct;
        } else {
            i += 1;
            kind = Kind::Punct;
        }
        out.push(Tok {
            kind,
            text: c[start..i.min(c.len())].iter().collect(),
            line: start_line,
        });
    }
    out
}

fn at(c: &[char], i: usize) -> char {
    c.get(i).copied().unwrap_or('\0')
}

fn is_ident_char(ch: char) -> bool {
    ch.is_alphanumeric() || ch == '_'
}

/// The index after a (nested) `/* … */` comment starting at `i`.
fn block_comment_end(c: &[char], mut i: usize, line: &mut usize) -> usize {
    let mut depth = 0;
    while i < c.len() {
        if c[i] == '/' && at(c, i + 1) == '*' {
            depth += 1;
            i += 2;
        } else if c[i] == '*' && at(c, i + 1) == '/' {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            if c[i] == '\n' {
                *line += 1;
            }
            i += 1;
        }
    }
    i
}

/// The index after a literal opened by `quote` at `i`, honouring `\` escapes.
fn quoted_end(c: &[char], mut i: usize, quote: char, line: &mut usize) -> usize {
    i += 1;
    while i < c.len() && c[i] != quote {
        if c[i] == '\\' {
            i += 1;
        }
        if at(c, i) == '\n' {
            *line += 1;
        }
        i += 1;
    }
    i + 1
}

/// If a raw string (`r"…"`, `br#"…"#`, `cr"…"`) starts at `i`, the index after it.
fn raw_string_end(c: &[char], i: usize, line: &mut usize) -> Option<usize> {
    let mut j = i;
    if matches!(at(c, j), 'b' | 'c') {
        j += 1;
    }
    if at(c, j) != 'r' {
        return None;
    }
    j += 1;
    let mut hashes = 0;
    while at(c, j) == '#' {
        hashes += 1;
        j += 1;
    }
    if at(c, j) != '"' {
        return None;
    }
    j += 1;
    while j < c.len() {
        if c[j] == '"' && (1..=hashes).all(|k| at(c, j + k) == '#') {
            return Some(j + 1 + hashes);
        }
        if c[j] == '\n' {
            *line += 1;
        }
        j += 1;
    }
    Some(j)
}

/// The index of the bracket closing the one at `open`, or the end of `t`.
pub fn matching(t: &[Tok], open: usize) -> usize {
    let mut depth = 0usize;
    for (k, tok) in t.iter().enumerate().skip(open) {
        if tok.kind != Kind::Punct {
            continue;
        }
        match tok.text.as_str() {
            "(" | "[" | "{" => depth += 1,
            ")" | "]" | "}" => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return k;
                }
            }
            _ => {}
        }
    }
    t.len()
}

/// The index after the item starting at `i`: its `;` at depth 0, or the `}`
/// closing its first top-level `{ … }` (not for `const`/`static`/`type`/`use`/`let`,
/// which always end in `;`).
pub fn item_end(t: &[Tok], i: usize) -> usize {
    let mut k = i;
    if text(t, k) == "pub" {
        k += 1;
        if text(t, k) == "(" {
            k = matching(t, k) + 1;
        }
    }
    let kw = text(t, k);
    let semicolon_only = matches!(kw, "static" | "type" | "use" | "let")
        || (kw == "const" && !matches!(text(t, k + 1), "fn" | "unsafe" | "async" | "extern"));
    let mut k = i;
    while k < t.len() {
        match text(t, k) {
            ";" => return k + 1,
            "{" if !semicolon_only => return matching(t, k) + 1,
            "(" | "[" | "{" => k = matching(t, k) + 1,
            _ => k += 1,
        }
    }
    t.len()
}

/// Whether the attribute tokens `#[ … ]` (between the brackets) make an item test-only.
fn is_test_cfg(attr: &[Tok]) -> bool {
    text(attr, 0) == "cfg" && attr.iter().any(|t| t.is("test")) && !attr.iter().any(|t| t.is("not"))
}

/// `tokens` without `#[cfg(test)]` items (and the other attributes on them):
/// test modules, test-only functions, `#[cfg(test)] mod tests;` declarations.
pub fn strip_test_items(t: &[Tok]) -> Vec<Tok> {
    let mut out = Vec::with_capacity(t.len());
    let mut i = 0;
    while i < t.len() {
        if !(t[i].is("#") && text(t, i + 1) == "[") {
            out.push(t[i].clone());
            i += 1;
            continue;
        }
        // A run of outer attributes: drop it with its item if one is a test cfg.
        let mut k = i;
        let mut test = false;
        while t.get(k).is_some_and(|x| x.is("#")) && text(t, k + 1) == "[" {
            let close = matching(t, k + 1);
            test |= is_test_cfg(t.get(k + 2..close).unwrap_or(&[]));
            k = close + 1;
        }
        if test {
            i = item_end(t, k);
        } else {
            out.extend(t[i..k.min(t.len())].iter().cloned());
            i = k;
        }
    }
    out
}
