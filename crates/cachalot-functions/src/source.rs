//! Checks and rewrites a function's source before the engine compiles it.
//!
//! CloudFront refuses some code at create time (size, syntax the runtime does not have:
//! `const`/`let`, `class`, `async`, `?.`, `??`… under `cloudfront-js-1.0`; imports of
//! anything but its modules). The engine then runs the code inside a factory function so
//! that every request starts from freshly created top-level variables. Import declarations
//! become bindings of the factory's module table, declared at the start of the factory (ES
//! modules hoist them too) while the declaration itself is blanked out in place, so every
//! other character keeps its line and column. A small tokenizer (strings, templates,
//! comments, regular expressions) keeps these checks off string contents, and checks that
//! brackets balance so the code cannot close the factory and run outside it.

use crate::Runtime;
use crate::error::CompileError;
use crate::limits::Limits;

/// Name of the factory parameter that carries the module table (`cloudfront`, `crypto`,
/// `querystring`, `buffer`).
pub(crate) const MODULES_PARAM: &str = "__cloudfrontModules";

/// File name user code is compiled under (shows in stack traces and error messages).
pub(crate) const CODE_FILE_NAME: &str = "function.js";

/// The modules `import` can name in cloudfront-js-2.0 and the names each exports (besides
/// its default export, the module object itself). The prelude's module table holds them.
pub(crate) const MODULES: &[(&str, &[&str])] = &[
    ("cloudfront", &["kvs", "updateRequestOrigin", "selectRequestOriginById", "createRequestOriginGroup"]),
    ("crypto", &["createHash", "createHmac"]),
    ("querystring", &["parse", "decode", "stringify", "encode", "escape", "unescape"]),
    ("buffer", &["Buffer"]),
];

/// Code ready for the engine, and how to turn the engine's positions back into the user's.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    /// `(function (modules) { <imports>; <code>; return handler; })`.
    pub(crate) factory: String,
    pub(crate) positions: SourceMap,
}

/// Maps a position in the factory's text to one in the user's file: the factory's opening
/// shares the first line with the user's code, and its closing follows the last line.
#[derive(Debug, Clone, Default)]
pub(crate) struct SourceMap {
    /// Characters the factory adds before the user's first line.
    prefix_columns: usize,
    /// Lines in the user's code.
    lines: usize,
    /// Characters on the user's last line.
    last_line_columns: usize,
}

impl SourceMap {
    /// The user's line and column (1-based) for the engine's.
    pub(crate) fn user_position(&self, line: usize, column: usize) -> (usize, usize) {
        if line > self.lines {
            // The engine ran into the factory's closing: the user's code ended too early.
            return (self.lines.max(1), self.last_line_columns + 1);
        }
        if line == 1 { (1, column.saturating_sub(self.prefix_columns).max(1)) } else { (line, column) }
    }

    /// Rewrites every `function.js:LINE:COLUMN` in `text` to the user's position.
    pub(crate) fn rewrite(&self, text: &str) -> String {
        let marker = format!("{CODE_FILE_NAME}:");
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(at) = rest.find(&marker) {
            let (before, after) = rest.split_at(at + marker.len());
            out.push_str(before);
            let digits = |s: &str| s.bytes().take_while(u8::is_ascii_digit).count();
            let line_len = digits(after);
            let column_len = after[line_len..].strip_prefix(':').map_or(0, digits);
            if line_len == 0 || column_len == 0 {
                rest = after;
                continue;
            }
            let line: usize = after[..line_len].parse().unwrap_or(0);
            let column: usize = after[line_len + 1..line_len + 1 + column_len].parse().unwrap_or(0);
            let (line, column) = self.user_position(line, column);
            out.push_str(&format!("{line}:{column}"));
            rest = &after[line_len + 1 + column_len..];
        }
        out.push_str(rest);
        out
    }
}

/// Validated source turned into a factory expression.
pub(crate) fn prepare(code: &str, runtime: Runtime, limits: &Limits) -> Result<Prepared, CompileError> {
    if code.len() > limits.max_code_bytes {
        return Err(CompileError::SizeLimitExceeded { size: code.len(), limit: limits.max_code_bytes });
    }
    let tokens = tokenize(code).map_err(|(message, offset)| syntax(code, offset, &message))?;
    check_brackets(code, &tokens)?;
    if runtime == Runtime::Js1 {
        check_js1_syntax(code, &tokens)?;
    }
    let mut body = String::with_capacity(code.len() + 64);
    let mut bindings = String::new();
    let mut copied = 0;
    let mut i = 0;
    let mut depth = 0usize;
    while i < tokens.len() {
        let tok = &tokens[i];
        if tok.kind == TokenKind::Punct {
            match tok.text(code) {
                "{" | "(" | "[" => depth += 1,
                "}" | ")" | "]" => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        if tok.kind == TokenKind::Template {
            // `${` opens and `}…` closes a substitution, like a brace.
            let text = tok.text(code);
            if text.starts_with('}') {
                depth = depth.saturating_sub(1);
            }
            if text.ends_with("${") {
                depth += 1;
            }
        }
        let prev = i.checked_sub(1).map(|p| &tokens[p]);
        let next = tokens.get(i + 1);
        let after_dot = prev.is_some_and(|p| p.is_punct(code, ".") || p.is_punct(code, "?."));
        let is_key = next.is_some_and(|n| n.is_punct(code, ":"));
        if tok.kind == TokenKind::Ident && !after_dot && !is_key {
            let word = tok.text(code);
            let opens_call = next.is_some_and(|n| n.is_punct(code, "(") || n.is_punct(code, "."));
            if word == "import" && !opens_call {
                if runtime == Runtime::Js1 {
                    return Err(unsupported(
                        code,
                        tok.start,
                        "`import`",
                        "use `require`, or the cloudfront-js-2.0 runtime",
                    ));
                }
                if depth > 0 {
                    return Err(syntax(code, tok.start, "import declarations may only appear at the top level"));
                }
                let (binding, end_index) = rewrite_import(code, &tokens, i)?;
                bindings.push_str(&binding);
                let end = tokens[end_index].end;
                body.push_str(&code[copied..tok.start]);
                // Blank the declaration out, keeping its line breaks.
                body.extend(code[tok.start..end].chars().map(|c| if c == '\n' || c == '\r' { c } else { ' ' }));
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
    let prefix = format!("(function({MODULES_PARAM}){{{bindings}");
    let (lines, last_line_columns) = match code.rsplit_once('\n') {
        Some((before, last)) => (before.matches('\n').count() + 2, last.chars().count()),
        None => (1, code.chars().count()),
    };
    Ok(Prepared {
        factory: format!("{prefix}{body}\n;return typeof handler === \"function\" ? handler : undefined;}})"),
        positions: SourceMap { prefix_columns: prefix.chars().count(), lines, last_line_columns },
    })
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

fn syntax(code: &str, offset: usize, message: &str) -> CompileError {
    let (line, column) = line_col(code, offset);
    CompileError::Syntax { message: format!("{message} ({CODE_FILE_NAME}:{line}:{column})") }
}

fn unsupported(code: &str, offset: usize, what: &str, instead: &str) -> CompileError {
    let (line, column) = line_col(code, offset);
    CompileError::Unsupported {
        message: format!("{what} is not supported by cloudfront-js-1.0 (line {line}, column {column}); {instead}"),
    }
}

/// Brackets must pair up: the code cannot close the factory around it, and an unclosed
/// bracket is reported where it opens rather than at the end of the file.
fn check_brackets(code: &str, tokens: &[Token]) -> Result<(), CompileError> {
    let mut open: Vec<(char, usize)> = Vec::new();
    for tok in tokens {
        let text = tok.text(code);
        let (closes, opens) = match tok.kind {
            TokenKind::Punct => match text {
                "{" => (None, Some('{')),
                "(" => (None, Some('(')),
                "[" => (None, Some('[')),
                "}" => (Some('{'), None),
                ")" => (Some('('), None),
                "]" => (Some('['), None),
                _ => (None, None),
            },
            // A template's `${` opens like a brace; its text after a substitution closes one.
            TokenKind::Template => (text.starts_with('}').then_some('$'), text.ends_with("${").then_some('$')),
            _ => (None, None),
        };
        if let Some(expected) = closes {
            match open.pop() {
                Some((opened, _)) if opened == expected => {}
                Some((opened, at)) => {
                    let (line, column) = line_col(code, at);
                    return Err(syntax(
                        code,
                        tok.start,
                        &format!(
                            "unexpected `{}`: `{}` opened at line {line}, column {column} is not closed",
                            &text[..1],
                            opening_text(opened)
                        ),
                    ));
                }
                None => return Err(syntax(code, tok.start, &format!("unexpected `{}`", &text[..1]))),
            }
        }
        if let Some(opened) = opens {
            open.push((opened, if tok.kind == TokenKind::Template { tok.end - 2 } else { tok.start }));
        }
    }
    match open.last() {
        Some(&(opened, at)) => Err(syntax(code, at, &format!("`{}` is never closed", opening_text(opened)))),
        None => Ok(()),
    }
}

fn opening_text(c: char) -> &'static str {
    match c {
        '{' => "{",
        '(' => "(",
        '[' => "[",
        _ => "${",
    }
}

/// Syntax cloudfront-js-1.0 does not have (ES 5.1 with template literals, arrow functions,
/// rest parameters and `**`; its feature page lists `const`, `let`, `async` and `await` as
/// 2.0 features, and numeric separators as new in 2.0). Refused at compile time, like
/// CloudFront does, rather than accepted because the engine happens to know them.
fn check_js1_syntax(code: &str, tokens: &[Token]) -> Result<(), CompileError> {
    let use_js2 = "use the cloudfront-js-2.0 runtime";
    for (i, tok) in tokens.iter().enumerate() {
        let prev = i.checked_sub(1).map(|p| &tokens[p]);
        let next = tokens.get(i + 1);
        let text = tok.text(code);
        match tok.kind {
            TokenKind::Ident => {
                let after_dot = prev.is_some_and(|p| p.is_punct(code, ".") || p.is_punct(code, "?."));
                let is_key = next.is_some_and(|n| n.is_punct(code, ":"));
                if after_dot || is_key {
                    continue;
                }
                match text {
                    "const" | "let" => {
                        return Err(unsupported(
                            code,
                            tok.start,
                            &format!("`{text}`"),
                            "use `var`, or the cloudfront-js-2.0 runtime",
                        ));
                    }
                    "class" => return Err(unsupported(code, tok.start, "`class`", use_js2)),
                    "async" if async_function_follows(code, tokens, i) => {
                        return Err(unsupported(code, tok.start, "`async`", use_js2));
                    }
                    "function" if next.is_some_and(|n| n.is_punct(code, "*")) => {
                        return Err(unsupported(code, tok.start, "a generator function (`function*`)", use_js2));
                    }
                    _ => {}
                }
            }
            TokenKind::Punct => {
                let what = match text {
                    "?." => Some("optional chaining (`?.`)"),
                    "??" => Some("`??`"),
                    "??=" => Some("`??=`"),
                    "||=" => Some("`||=`"),
                    "&&=" => Some("`&&=`"),
                    _ => None,
                };
                if let Some(what) = what {
                    return Err(unsupported(code, tok.start, what, use_js2));
                }
            }
            TokenKind::Number => {
                if text.contains('_') {
                    return Err(unsupported(code, tok.start, "a numeric separator (`1_000`)", use_js2));
                }
                if text.ends_with('n') {
                    return Err(unsupported(code, tok.start, "a BigInt literal", use_js2));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// `async` starts an async function: `async function`, `async x =>`, `async (…) =>`, or an
/// async method (`async name(…) {`).
fn async_function_follows(code: &str, tokens: &[Token], i: usize) -> bool {
    let Some(next) = tokens.get(i + 1) else { return false };
    if next.kind == TokenKind::Ident {
        let after = tokens.get(i + 2);
        return next.text(code) == "function"
            || after.is_some_and(|t| t.is_punct(code, "=>"))
            || (after.is_some_and(|t| t.is_punct(code, "("))
                && i.checked_sub(1).is_some_and(|p| tokens[p].is_punct(code, "{") || tokens[p].is_punct(code, ",")));
    }
    if next.is_punct(code, "(") {
        let mut depth = 0usize;
        for (j, t) in tokens.iter().enumerate().skip(i + 1) {
            if t.is_punct(code, "(") {
                depth += 1;
            } else if t.is_punct(code, ")") {
                depth -= 1;
                if depth == 0 {
                    return tokens.get(j + 1).is_some_and(|t| t.is_punct(code, "=>"));
                }
            }
        }
    }
    false
}

/// Turns an import declaration into bindings of the module table; returns them and the index
/// of the declaration's last token. Forms: `import x from 'm'`, `import * as x from 'm'`,
/// `import { a, b as c } from 'm'`, `import x, { a } from 'm'`, `import x, * as y from 'm'`,
/// `import 'm'`.
fn rewrite_import(code: &str, tokens: &[Token], start: usize) -> Result<(String, usize), CompileError> {
    let at = tokens[start].start;
    let (line, column) = line_col(code, at);
    let modules = MODULES.iter().map(|(m, _)| format!("'{m}'")).collect::<Vec<_>>().join(", ");
    let bad = |what: &str| CompileError::Unsupported {
        message: format!("{what} (line {line}, column {column}); the modules are {modules}"),
    };
    let string_at = |j: usize| tokens.get(j).filter(|t| t.kind == TokenKind::Str);
    // `import 'm'`: nothing to bind.
    let (module_token, clause_end, from) = match string_at(start + 1) {
        Some(t) => (t, start + 1, None),
        None => {
            let from = (start + 1..tokens.len())
                .find(|&j| tokens[j].kind == TokenKind::Ident && tokens[j].text(code) == "from")
                .ok_or_else(|| bad("unsupported import"))?;
            (string_at(from + 1).ok_or_else(|| bad("unsupported import"))?, from, Some(from))
        }
    };
    let module_name = &code[module_token.start + 1..module_token.end - 1];
    let exports = MODULES
        .iter()
        .find(|(m, _)| *m == module_name)
        .map(|(_, e)| *e)
        .ok_or_else(|| bad(&format!("module '{module_name}' cannot be imported")))?;
    let mut end = if from.is_some() { clause_end + 1 } else { clause_end };
    if tokens.get(end + 1).is_some_and(|t| t.is_punct(code, ";")) {
        end += 1;
    }
    let module = format!("{MODULES_PARAM}.{module_name}");
    let mut out = String::new();
    let clause = &tokens[start + 1..if from.is_some() { clause_end } else { start + 1 }];
    let mut k = 0;
    let ident = |t: &Token| t.kind == TokenKind::Ident;
    while k < clause.len() {
        let t = &clause[k];
        if ident(t) && t.text(code) != "as" {
            // Default import.
            out.push_str(&format!("const {} = {module};", t.text(code)));
            k += 1;
        } else if t.is_punct(code, "*") {
            match clause.get(k + 1..k + 3) {
                Some([as_kw, name]) if as_kw.text(code) == "as" && ident(name) => {
                    out.push_str(&format!("const {} = {module};", name.text(code)));
                    k += 3;
                }
                _ => return Err(bad("unsupported import form")),
            }
        } else if t.is_punct(code, "{") {
            let close =
                clause[k..].iter().position(|t| t.is_punct(code, "}")).ok_or_else(|| bad("unsupported import form"))?
                    + k;
            let mut pairs = Vec::new();
            let mut names = clause[k + 1..close].split(|t| t.is_punct(code, ","));
            for spec in names.by_ref() {
                let (exported, local) = match spec {
                    [] => continue,
                    [name] if ident(name) || name.kind == TokenKind::Str => (name, name),
                    [name, as_kw, local] if as_kw.text(code) == "as" && ident(local) => (name, local),
                    _ => return Err(bad("unsupported import form")),
                };
                let exported_name = if exported.kind == TokenKind::Str {
                    &code[exported.start + 1..exported.end - 1]
                } else {
                    exported.text(code)
                };
                if exported_name == "default" {
                    out.push_str(&format!("const {} = {module};", local.text(code)));
                    continue;
                }
                if !exports.contains(&exported_name) {
                    return Err(syntax(
                        code,
                        exported.start,
                        &format!("the module '{module_name}' does not provide an export named '{exported_name}'"),
                    ));
                }
                pairs.push(format!("{exported_name}: {}", local.text(code)));
            }
            if !pairs.is_empty() {
                out.push_str(&format!("const {{ {} }} = {module};", pairs.join(", ")));
            }
            k = close + 1;
        } else if t.is_punct(code, ",") {
            k += 1;
        } else {
            return Err(bad("unsupported import form"));
        }
    }
    Ok((out, end))
}

/// Line and column (1-based, in characters) of a byte offset.
fn line_col(code: &str, offset: usize) -> (usize, usize) {
    let before = &code[..offset.min(code.len())];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |nl| nl + 1);
    (line, before[line_start..].chars().count() + 1)
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

/// Operators of more than one character that the checks look at.
const LONG_PUNCTUATORS: &[&str] = &["??=", "||=", "&&=", "?.", "??", "=>"];

/// Splits source into tokens. Template literals are single tokens except for their `${…}`
/// expressions, which are tokenized as code. Errors carry the byte offset where they start.
fn tokenize(code: &str) -> Result<Vec<Token>, (String, usize)> {
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
                let end = code[i + 2..].find("*/").ok_or_else(|| ("unterminated comment".to_owned(), i))?;
                i += 2 + end + 2;
            }
            b'\'' | b'"' => {
                let start = i;
                i += 1;
                loop {
                    match bytes.get(i) {
                        None | Some(b'\n') => return Err(("unterminated string literal".into(), start)),
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
                        None | Some(b'\n') => return Err(("unterminated regular expression".into(), start)),
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
                let long = LONG_PUNCTUATORS.iter().find(|p| {
                    code[i..].starts_with(**p)
                        // `a?.5:b` is a conditional, not optional chaining.
                        && !(**p == "?." && bytes.get(i + 2).is_some_and(u8::is_ascii_digit))
                });
                if let Some(p) = long {
                    i += p.len();
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
    if let Some(open) =
        tokens.iter().rev().find(|t| t.kind == TokenKind::Template).filter(|_| !template_stack.is_empty())
    {
        return Err(("unterminated template literal".into(), open.start));
    }
    Ok(tokens)
}

/// Scans template text from `i` to its closing backtick or to a `${`; returns the index after it.
fn scan_template(
    bytes: &[u8],
    mut i: usize,
    stack: &mut Vec<usize>,
    brace_depth: usize,
) -> Result<usize, (String, usize)> {
    let start = i.saturating_sub(1);
    loop {
        match bytes.get(i) {
            None => return Err(("unterminated template literal".into(), start)),
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
        prepare(code, Runtime::Js1, &Limits::default()).map(|p| p.factory)
    }

    fn js2(code: &str) -> Result<String, CompileError> {
        prepare(code, Runtime::Js2, &Limits::default()).map(|p| p.factory)
    }

    fn js1_error(code: &str) -> String {
        js1(code).expect_err(code).to_string()
    }

    #[test]
    fn const_and_let_are_refused_under_js1_with_their_position() {
        let err = js1_error("function handler(e) {\n  const x = 1;\n  return e.request;\n}");
        assert!(err.contains("`const`"), "{err}");
        assert!(err.contains("line 2, column 3"), "{err}");
        assert!(js1_error("var a = 1; let b = 2;").contains("`let`"));
    }

    #[test]
    fn const_and_let_in_strings_comments_regexes_and_keys_are_fine_under_js1() {
        let code = "// const x\n/* let y */ var s = 'const'; var t = `let ${'const'}`; var r = /const|let/g;\n\
                    var o = {let: 1, const: 2}; o.let = o.const; function handler(e) { return e.request; }";
        assert!(js1(code).is_ok(), "{:?}", js1(code));
    }

    #[test]
    fn syntax_only_cloudfront_js_2_has_is_refused_under_js1() {
        let cases = [
            ("class A {}", "`class`"),
            ("var f = async function () {};", "`async`"),
            ("async function handler(e) { return e.request; }", "`async`"),
            ("var f = async x => x;", "`async`"),
            ("var f = async (a, b) => a;", "`async`"),
            ("var o = { async m() {} };", "`async`"),
            ("var x = a?.b;", "optional chaining"),
            ("var x = a ?? b;", "`??`"),
            ("a ??= b;", "`??=`"),
            ("a ||= b;", "`||=`"),
            ("a &&= b;", "`&&=`"),
            ("var n = 1_000;", "numeric separator"),
            ("var n = 10n;", "BigInt"),
            ("function* g() {}", "generator"),
        ];
        for (code, what) in cases {
            let err = js1_error(code);
            assert!(err.contains(what) && err.contains("cloudfront-js-1.0 (line 1, column"), "{code}: {err}");
            assert!(js2(code).is_ok(), "{code} under 2.0: {:?}", js2(code));
        }
        // Names and operators that only look alike.
        let fine = "var async = 1; var o = { class: 1, async: 2 }; o.class = o.async; var c = a ? .5 : b;\n\
                    var f = async(1); var t = x => x; var p = 2 ** 3; var s = 'a ?? b'; var h = 0x1F;\n\
                    function handler(e) { return e.request; }";
        assert!(js1(fine).is_ok(), "{:?}", js1(fine));
    }

    #[test]
    fn imports_become_bindings_declared_at_the_start_and_keep_every_position() {
        let code = "import cf from 'cloudfront';\nimport crypto from 'crypto';\nasync function handler(e) { return e.request; }";
        let prepared = prepare(code, Runtime::Js2, &Limits::default()).unwrap();
        let out = &prepared.factory;
        assert!(out.contains(&format!("const cf = {MODULES_PARAM}.cloudfront;")), "{out}");
        assert!(out.contains(&format!("const crypto = {MODULES_PARAM}.crypto;")), "{out}");
        assert!(!out.contains("import"));
        // The user's text stays where it was: only the declarations are blanked.
        let body_start = out.find("\n").unwrap();
        assert_eq!(&out[body_start..body_start + 30], &format!("\n{}\n", " ".repeat(28))[..30]);
        let forms = [
            ("import * as m from \"cloudfront\"", "const m = __cloudfrontModules.cloudfront;"),
            (
                "import { kvs as k, updateRequestOrigin } from 'cloudfront'",
                "const { kvs: k, updateRequestOrigin: updateRequestOrigin } = __cloudfrontModules.cloudfront;",
            ),
            (
                "import qs, { parse } from 'querystring'",
                "const qs = __cloudfrontModules.querystring;const { parse: parse } = __cloudfrontModules.querystring;",
            ),
            ("import { Buffer } from 'buffer'", "const { Buffer: Buffer } = __cloudfrontModules.buffer;"),
            ("import { default as c } from 'crypto'", "const c = __cloudfrontModules.crypto;"),
            (
                "import c, * as all from 'crypto'",
                "const c = __cloudfrontModules.crypto;const all = __cloudfrontModules.crypto;",
            ),
            ("import 'crypto'", ""),
        ];
        for (import, binding) in forms {
            let out = js2(&format!("{import};\nfunction handler(e) {{ return e.request; }}")).unwrap();
            assert!(
                out.starts_with(&format!("({MODULES_PARAM}){{{binding}").replace("(__", "(function(__")),
                "{import}: {out}"
            );
        }
    }

    #[test]
    fn bad_imports_are_refused() {
        assert!(js2("import fs from 'fs';").unwrap_err().to_string().contains("'fs' cannot be imported"));
        let err = js2("import { createSign } from 'crypto';").unwrap_err().to_string();
        assert!(
            err.contains("does not provide an export named 'createSign'") && err.contains("function.js:1:10"),
            "{err}"
        );
        assert!(js2("if (x) { import cf from 'cloudfront'; }").unwrap_err().to_string().contains("top level"));
        assert!(js1("import cf from 'cloudfront';").unwrap_err().to_string().contains("cloudfront-js-1.0"));
        assert!(js2("export function handler(e) {}").unwrap_err().to_string().contains("`export`"));
    }

    #[test]
    fn unbalanced_brackets_are_syntax_errors_where_they_are() {
        let err = js2("function handler(e) { return e.request; }\n});\nwhile (true) {}").unwrap_err();
        assert_eq!(err.to_string(), "SyntaxError: unexpected `}` (function.js:2:1)");
        let err = js2("function handler(e) {\n  if (e) {\n    return e.request;\n}").unwrap_err();
        assert_eq!(err.to_string(), "SyntaxError: `{` is never closed (function.js:1:21)");
        let err = js2("var a = [1, 2);").unwrap_err();
        assert!(err.to_string().contains("unexpected `)`: `[` opened at line 1, column 9"), "{err}");
        assert!(js2("var t = `a${ {b: 1}.b }c${`d${1}`}`; function handler(e) { return e.request; }").is_ok());
    }

    #[test]
    fn engine_positions_map_back_to_the_users_file() {
        let prepared = prepare(
            "import cf from 'cloudfront';\nfunction handler(e) {\n  return e.request;\n}",
            Runtime::Js2,
            &Limits::default(),
        )
        .unwrap();
        let map = &prepared.positions;
        let prefix = prepared.factory.find("   ").unwrap();
        assert_eq!(map.user_position(1, prefix + 5), (1, 5));
        assert_eq!(map.user_position(3, 3), (3, 3));
        // Past the end: the end of the user's last line.
        assert_eq!(map.user_position(5, 1), (4, 2));
        assert_eq!(
            map.rewrite(&format!("TypeError: x (function.js:1:{}) at f (function.js:3:10)", prefix + 1)),
            "TypeError: x (function.js:1:1) at f (function.js:3:10)"
        );
    }

    #[test]
    fn division_is_not_mistaken_for_a_regex() {
        let code =
            "var a = 4, b = 2; var c = a / b / 1; var t = `x${a / b}y`; function handler(e) { return e.request; }";
        assert!(js1(code).is_ok());
    }

    #[test]
    fn code_over_the_size_limit_is_refused() {
        let code = format!("var s = '{}';", "x".repeat(10 * 1024));
        assert!(matches!(js2(&code), Err(CompileError::SizeLimitExceeded { .. })));
    }

    #[test]
    fn unterminated_literals_are_syntax_errors_with_their_position() {
        assert_eq!(
            js2("var s = 'abc").unwrap_err().to_string(),
            "SyntaxError: unterminated string literal (function.js:1:9)"
        );
        assert!(matches!(js2("var s = `abc${1"), Err(CompileError::Syntax { .. })));
        assert!(js2("var a;\n/* x").unwrap_err().to_string().ends_with("(function.js:2:1)"));
    }
}
