//! Checks and rewrites a function's source before the engine compiles it.
//!
//! CloudFront refuses some code at create time (size, `const`/`let` under
//! `cloudfront-js-1.0`, imports of anything but `cloudfront`). The engine then
//! runs the code inside a factory function so that every request starts from
//! freshly created top-level variables; `import cf from 'cloudfront'` becomes a
//! binding of that factory's parameter. A small tokenizer (strings, templates,
//! comments, regular expressions) keeps these checks off string contents.

use crate::Runtime;
use crate::error::CompileError;
use crate::limits::Limits;

/// Name of the factory parameter that carries the `cloudfront` module.
pub(crate) const MODULE_PARAM: &str = "__cloudfrontModule";

/// Validated source turned into a factory expression: `(function (module) { …; return handler; })`.
pub(crate) fn prepare(code: &str, runtime: Runtime, limits: &Limits) -> Result<String, CompileError> {
    if code.len() > limits.max_code_bytes {
        return Err(CompileError::SizeLimitExceeded { size: code.len(), limit: limits.max_code_bytes });
    }
    let tokens = tokenize(code).map_err(|message| CompileError::Syntax { message })?;
    let mut body = String::with_capacity(code.len() + 64);
    let mut copied = 0;
    let mut i = 0;
    while i < tokens.len() {
        let tok = &tokens[i];
        let prev = i.checked_sub(1).map(|p| &tokens[p]);
        let next = tokens.get(i + 1);
        let after_dot = prev.is_some_and(|p| p.is_punct(code, ".") || p.is_punct(code, "?."));
        let is_key = next.is_some_and(|n| n.is_punct(code, ":"));
        if tok.kind == TokenKind::Ident && !after_dot && !is_key {
            let word = tok.text(code);
            if runtime == Runtime::Js1 && (word == "const" || word == "let") {
                let (line, column) = line_col(code, tok.start);
                return Err(CompileError::Unsupported {
                    message: format!(
                        "`{word}` is not supported by cloudfront-js-1.0 (line {line}, column {column}); \
                         use `var`, or the cloudfront-js-2.0 runtime"
                    ),
                });
            }
            let opens_call = next.is_some_and(|n| n.is_punct(code, "(") || n.is_punct(code, "."));
            if word == "import" && !opens_call {
                if runtime == Runtime::Js1 {
                    let (line, column) = line_col(code, tok.start);
                    return Err(CompileError::Unsupported {
                        message: format!(
                            "`import` is not supported by cloudfront-js-1.0 (line {line}, column {column}); \
                             use the cloudfront-js-2.0 runtime"
                        ),
                    });
                }
                let (replacement, end_index) = rewrite_import(code, &tokens, i)?;
                let end = tokens[end_index].end;
                body.push_str(&code[copied..tok.start]);
                body.push_str(&replacement);
                // Keep line numbers in error messages true to the user's file.
                for _ in code[tok.start..end].matches('\n') {
                    body.push('\n');
                }
                copied = end;
                i = end_index + 1;
                continue;
            }
            if word == "export" {
                let (line, column) = line_col(code, tok.start);
                return Err(CompileError::Unsupported {
                    message: format!(
                        "`export` is not supported (line {line}, column {column}); CloudFront calls the function named `handler`"
                    ),
                });
            }
        }
        i += 1;
    }
    body.push_str(&code[copied..]);
    Ok(format!(
        "(function ({MODULE_PARAM}) {{\"use strict\";{body}\n;return typeof handler === \"function\" ? handler : undefined;}})"
    ))
}

/// True when the code declares something named `handler` (`function handler`, `var handler = …`).
pub(crate) fn declares_handler(code: &str) -> bool {
    let Ok(tokens) = tokenize(code) else { return false };
    tokens.windows(2).any(|w| {
        w[1].kind == TokenKind::Ident
            && w[1].text(code) == "handler"
            && w[0].kind == TokenKind::Ident
            && matches!(w[0].text(code), "function" | "var" | "let" | "const")
    })
}

/// Rewrites `import cf from 'cloudfront'`, `import * as cf from …` and `import { kvs } from …`.
fn rewrite_import(code: &str, tokens: &[Token], start: usize) -> Result<(String, usize), CompileError> {
    let (line, column) = line_col(code, tokens[start].start);
    let bad = |what: &str| CompileError::Unsupported {
        message: format!("{what} (line {line}, column {column}); only `import cf from 'cloudfront'` is available"),
    };
    let from = (start + 1..tokens.len())
        .find(|&j| tokens[j].kind == TokenKind::Ident && tokens[j].text(code) == "from")
        .ok_or_else(|| bad("unsupported import"))?;
    let module = tokens.get(from + 1).filter(|t| t.kind == TokenKind::Str).ok_or_else(|| bad("unsupported import"))?;
    let module_name = &code[module.start + 1..module.end - 1];
    if module_name != "cloudfront" {
        return Err(bad(&format!("module '{module_name}' cannot be imported")));
    }
    let mut end = from + 1;
    if tokens.get(end + 1).is_some_and(|t| t.is_punct(code, ";")) {
        end += 1;
    }
    let clause: Vec<&Token> = tokens[start + 1..from].iter().collect();
    let binding = match clause.as_slice() {
        [name] if name.kind == TokenKind::Ident => name.text(code).to_owned(),
        [star, as_kw, name]
            if star.is_punct(code, "*") && as_kw.text(code) == "as" && name.kind == TokenKind::Ident =>
        {
            name.text(code).to_owned()
        }
        [open, .., close] if open.is_punct(code, "{") && close.is_punct(code, "}") => {
            let mut pattern = String::from("{");
            for tok in &clause[1..clause.len() - 1] {
                match tok.text(code) {
                    "as" => pattern.push(':'),
                    other => {
                        pattern.push_str(other);
                        pattern.push(' ');
                    }
                }
            }
            pattern.push('}');
            pattern
        }
        _ => return Err(bad("unsupported import form")),
    };
    Ok((format!("const {binding} = {MODULE_PARAM};"), end))
}

fn line_col(code: &str, offset: usize) -> (usize, usize) {
    let before = &code[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(offset, |nl| offset - nl - 1) + 1;
    (line, column)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokenKind {
    Ident,
    Punct,
    Str,
    Number,
    Template,
    Regex,
}

#[derive(Debug, Clone, Copy)]
struct Token {
    kind: TokenKind,
    start: usize,
    end: usize,
}

impl Token {
    fn text<'a>(&self, code: &'a str) -> &'a str {
        &code[self.start..self.end]
    }

    fn is_punct(&self, code: &str, p: &str) -> bool {
        self.kind == TokenKind::Punct && self.text(code) == p
    }
}

/// Words after which a `/` starts a regular expression rather than a division.
const REGEX_AFTER_WORDS: &[&str] = &[
    "return",
    "typeof",
    "instanceof",
    "in",
    "of",
    "new",
    "delete",
    "void",
    "throw",
    "case",
    "do",
    "else",
    "yield",
    "await",
];

/// Splits source into tokens. Template literals are single tokens except for their `${…}`
/// expressions, which are tokenized as code.
fn tokenize(code: &str) -> Result<Vec<Token>, String> {
    let bytes = code.as_bytes();
    let mut tokens: Vec<Token> = Vec::new();
    // One entry per open `${`: the brace depth at which that substitution closes.
    let mut template_stack: Vec<usize> = Vec::new();
    let mut brace_depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => i += 1,
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let end = code[i + 2..].find("*/").ok_or("unterminated comment")?;
                i += 2 + end + 2;
            }
            b'\'' | b'"' => {
                let start = i;
                i += 1;
                loop {
                    match bytes.get(i) {
                        None | Some(b'\n') => return Err("unterminated string literal".into()),
                        Some(b'\\') => i += 2,
                        Some(&q) if q == c => {
                            i += 1;
                            break;
                        }
                        Some(_) => i += 1,
                    }
                }
                tokens.push(Token { kind: TokenKind::Str, start, end: i });
            }
            b'`' => {
                let start = i;
                i = scan_template(bytes, i + 1, &mut template_stack, brace_depth)?;
                tokens.push(Token { kind: TokenKind::Template, start, end: i });
            }
            b'}' if template_stack.last() == Some(&brace_depth) => {
                template_stack.pop();
                let start = i;
                i = scan_template(bytes, i + 1, &mut template_stack, brace_depth)?;
                tokens.push(Token { kind: TokenKind::Template, start, end: i });
            }
            b'/' if regex_allowed(code, tokens.last()) => {
                let start = i;
                i += 1;
                let mut in_class = false;
                loop {
                    match bytes.get(i) {
                        None | Some(b'\n') => return Err("unterminated regular expression".into()),
                        Some(b'\\') => i += 2,
                        Some(b'[') => {
                            in_class = true;
                            i += 1;
                        }
                        Some(b']') => {
                            in_class = false;
                            i += 1;
                        }
                        Some(b'/') if !in_class => {
                            i += 1;
                            break;
                        }
                        Some(_) => i += 1,
                    }
                }
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b'$') {
                    i += 1;
                }
                tokens.push(Token { kind: TokenKind::Regex, start, end: i });
            }
            b'0'..=b'9' => {
                let start = i;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'.' || bytes[i] == b'_') {
                    i += 1;
                }
                tokens.push(Token { kind: TokenKind::Number, start, end: i });
            }
            _ if c.is_ascii_alphabetic() || c == b'_' || c == b'$' || c == b'\\' || c >= 0x80 => {
                let start = i;
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric()
                        || bytes[i] == b'_'
                        || bytes[i] == b'$'
                        || bytes[i] == b'\\'
                        || bytes[i] >= 0x80)
                {
                    i += 1;
                }
                tokens.push(Token { kind: TokenKind::Ident, start, end: i });
            }
            _ => {
                let start = i;
                if c == b'?' && bytes.get(i + 1) == Some(&b'.') && !bytes.get(i + 2).is_some_and(u8::is_ascii_digit) {
                    i += 2;
                } else if c == b'.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
                    while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'.') {
                        i += 1;
                    }
                    tokens.push(Token { kind: TokenKind::Number, start, end: i });
                    continue;
                } else {
                    i += 1;
                }
                match c {
                    b'{' => brace_depth += 1,
                    b'}' => brace_depth = brace_depth.saturating_sub(1),
                    _ => {}
                }
                tokens.push(Token { kind: TokenKind::Punct, start, end: i });
            }
        }
    }
    if !template_stack.is_empty() {
        return Err("unterminated template literal".into());
    }
    Ok(tokens)
}

/// Scans template text from `i` to its closing backtick or to a `${`; returns the index after it.
fn scan_template(bytes: &[u8], mut i: usize, stack: &mut Vec<usize>, brace_depth: usize) -> Result<usize, String> {
    loop {
        match bytes.get(i) {
            None => return Err("unterminated template literal".into()),
            Some(b'\\') => i += 2,
            Some(b'`') => return Ok(i + 1),
            Some(b'$') if bytes.get(i + 1) == Some(&b'{') => {
                stack.push(brace_depth);
                return Ok(i + 2);
            }
            Some(_) => i += 1,
        }
    }
}

fn regex_allowed(code: &str, prev: Option<&Token>) -> bool {
    match prev {
        None => true,
        Some(t) => match t.kind {
            TokenKind::Number | TokenKind::Str | TokenKind::Regex => false,
            TokenKind::Template => t.text(code).ends_with("${"),
            TokenKind::Ident => REGEX_AFTER_WORDS.contains(&t.text(code)),
            TokenKind::Punct => !matches!(t.text(code), ")" | "]" | "}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn js1(code: &str) -> Result<String, CompileError> {
        prepare(code, Runtime::Js1, &Limits::default())
    }

    fn js2(code: &str) -> Result<String, CompileError> {
        prepare(code, Runtime::Js2, &Limits::default())
    }

    #[test]
    fn const_and_let_are_refused_under_js1_with_their_position() {
        let err = js1("function handler(e) {\n  const x = 1;\n  return e.request;\n}").unwrap_err();
        assert!(err.to_string().contains("`const`"), "{err}");
        assert!(err.to_string().contains("line 2, column 3"), "{err}");
        assert!(js1("var a = 1; let b = 2;").unwrap_err().to_string().contains("`let`"));
    }

    #[test]
    fn const_and_let_in_strings_comments_regexes_and_keys_are_fine_under_js1() {
        let code = "// const x\n/* let y */ var s = 'const'; var t = `let ${'const'}`; var r = /const|let/g;\n\
                    var o = {let: 1, const: 2}; o.let = o.const; function handler(e) { return e.request; }";
        assert!(js1(code).is_ok(), "{:?}", js1(code));
    }

    #[test]
    fn division_is_not_mistaken_for_a_regex() {
        let code =
            "var a = 4, b = 2; var c = a / b / 1; var t = `x${a / b}y`; function handler(e) { return e.request; }";
        assert!(js1(code).is_ok());
    }

    #[test]
    fn cloudfront_import_becomes_a_binding_and_keeps_lines() {
        let out = js2("import cf from 'cloudfront';\nasync function handler(e) { return e.request; }").unwrap();
        assert!(out.contains(&format!("const cf = {MODULE_PARAM};")));
        assert!(!out.contains("import"));
        let out = js2("import * as m from \"cloudfront\"\nfunction handler(e) { return e.request; }").unwrap();
        assert!(out.contains(&format!("const m = {MODULE_PARAM};")));
        let out = js2("import { kvs as k } from 'cloudfront';\nfunction handler(e) { return e.request; }").unwrap();
        assert!(out.contains(&format!("const {{kvs :k }} = {MODULE_PARAM};")), "{out}");
    }

    #[test]
    fn other_imports_and_exports_are_refused() {
        assert!(js2("import fs from 'fs';").unwrap_err().to_string().contains("'fs' cannot be imported"));
        assert!(js1("import cf from 'cloudfront';").unwrap_err().to_string().contains("cloudfront-js-1.0"));
        assert!(js2("export function handler(e) {}").unwrap_err().to_string().contains("`export`"));
    }

    #[test]
    fn code_over_the_size_limit_is_refused() {
        let code = format!("var s = '{}';", "x".repeat(10 * 1024));
        assert!(matches!(js2(&code), Err(CompileError::SizeLimitExceeded { .. })));
    }

    #[test]
    fn unterminated_literals_are_syntax_errors() {
        assert!(matches!(js2("var s = 'abc"), Err(CompileError::Syntax { .. })));
        assert!(matches!(js2("var s = `abc${1"), Err(CompileError::Syntax { .. })));
    }
}
