//! Moves the event into the engine and the handler's result out of it without JSON text.
//!
//! [`build_event`] creates the event objects directly with the engine's object API, in the
//! same shape and property order `JSON.parse` of the event's JSON gives. [`Serializer`]
//! reads the result back into a [`serde_json::Value`] following `JSON.stringify`'s algorithm
//! step by step (`toJSON` lookups and calls with the property key, getters run in the same
//! order, functions/symbols/`undefined` left out or `null` in arrays, non-finite numbers as
//! `null`), so what the validation sees is what `JSON.parse(JSON.stringify(result))` would
//! give. Values whose serialisation depends on engine internals (proxies, boxed primitives,
//! `JSON.rawJSON` values, BigInts, objects with an unusual prototype, cycles, very deep
//! nesting) are handed to the realm's own `JSON.stringify` at the point they are met.

use crate::event::{EventContext, EventType, MultiValueMap, Request, Response, ResponseCookies};
use crate::tree::{Map, Value as Json};
use rquickjs::function::This;
use rquickjs::object::Property;
use rquickjs::{Atom, Ctx, Function as JsFunction, IntoJs, Object, Persistent, Value};
use serde_json::Number;

/// The event, borrowed from the caller.
pub(crate) struct EventData<'a> {
    pub(crate) event_type: EventType,
    pub(crate) context: &'a EventContext,
    pub(crate) viewer_ip: &'a str,
    pub(crate) request: &'a Request,
    pub(crate) response: Option<&'a Response>,
}

/// Nesting below which the result is read natively; deeper values go to `JSON.stringify`.
const MAX_NATIVE_DEPTH: usize = 64;

/// Bytes each value adds to the size budget besides its text (punctuation, bookkeeping).
const ITEM_COST: usize = 8;

/// Property names every invocation uses, interned once per engine instance.
#[derive(Clone, Copy)]
enum Prop {
    Value,
    MultiValue,
    Attributes,
    Version,
    Context,
    DistributionDomainName,
    DistributionId,
    EventType,
    RequestId,
    Viewer,
    Ip,
    Request,
    Method,
    Uri,
    Querystring,
    Headers,
    Cookies,
    Response,
    StatusCode,
    StatusDescription,
    Body,
    Encoding,
    Data,
    ToJson,
    Length,
    RawJson,
}

/// Texts of [`Prop`], in order.
const NAMES: [&str; 26] = [
    "value",
    "multiValue",
    "attributes",
    "version",
    "context",
    "distributionDomainName",
    "distributionId",
    "eventType",
    "requestId",
    "viewer",
    "ip",
    "request",
    "method",
    "uri",
    "querystring",
    "headers",
    "cookies",
    "response",
    "statusCode",
    "statusDescription",
    "body",
    "encoding",
    "data",
    "toJSON",
    "length",
    "rawJSON",
];

/// [`NAMES`] as atoms kept by an engine instance.
pub(crate) struct SavedNames(Vec<Persistent<Atom<'static>>>);

impl SavedNames {
    pub(crate) fn new(ctx: &Ctx<'_>) -> rquickjs::Result<Self> {
        NAMES
            .iter()
            .map(|n| Ok(Persistent::save(ctx, Atom::from_str(ctx.clone(), n)?)))
            .collect::<rquickjs::Result<_>>()
            .map(Self)
    }

    pub(crate) fn restore<'js>(&self, ctx: &Ctx<'js>) -> rquickjs::Result<Names<'js>> {
        self.0.iter().map(|a| a.clone().restore(ctx)).collect::<rquickjs::Result<_>>().map(Names)
    }
}

/// [`SavedNames`] in one invocation.
pub(crate) struct Names<'js>(Vec<Atom<'js>>);

impl<'js> Names<'js> {
    fn get(&self, name: Prop) -> Atom<'js> {
        self.0[name as usize].clone()
    }
}

/// Strings and property names the engine created for the event, with their Rust text:
/// reading the result back finds unchanged values here instead of converting them again.
/// (A JavaScript string is immutable, so the same string value has the same text; equal
/// property names are the same atom.)
///
/// Results are read in about the order the event was built, so each search starts where the
/// previous one ended and wraps around: most lookups succeed at the first entry tried.
pub(crate) struct Known<'a, 'js> {
    /// The names of the event's shape (`value`, `headers`…), interned once per instance.
    fixed: Option<&'a Names<'js>>,
    strings: Vec<(Value<'js>, &'a str)>,
    /// Names taken from the request (header, cookie and parameter names).
    names: Vec<(Atom<'js>, &'a str)>,
    next_string: std::cell::Cell<usize>,
    next_name: std::cell::Cell<usize>,
}

impl<'a, 'js> Known<'a, 'js> {
    /// Nothing known (every value read is converted).
    #[cfg(test)]
    pub(crate) fn none() -> Self {
        Self::with(None)
    }

    fn with(fixed: Option<&'a Names<'js>>) -> Self {
        // Room for a typical event: small enough that these are not "large" allocations for
        // the system allocator (which would make it consolidate its free lists each time).
        Known {
            fixed,
            strings: Vec::with_capacity(24),
            names: Vec::with_capacity(16),
            next_string: std::cell::Cell::new(0),
            next_name: std::cell::Cell::new(0),
        }
    }

    fn string(&self, value: &Value<'js>) -> Option<&str> {
        let found = find_from(&self.strings, self.next_string.get(), |(v, _)| v == value)?;
        self.next_string.set(found + 1);
        Some(self.strings[found].1)
    }

    fn name(&self, atom: &Atom<'js>) -> Option<&str> {
        if let Some(i) = self.fixed.and_then(|f| f.0.iter().position(|a| a == atom)) {
            return Some(NAMES[i]);
        }
        let found = find_from(&self.names, self.next_name.get(), |(a, _)| a == atom)?;
        self.next_name.set(found + 1);
        Some(self.names[found].1)
    }
}

/// Index of the first item matching `f`, searching from `start` to the end, then from the beginning.
fn find_from<T>(items: &[T], start: usize, f: impl Fn(&T) -> bool) -> Option<usize> {
    let start = start.min(items.len());
    let (before, after) = items.split_at(start);
    after.iter().position(&f).map(|i| start + i).or_else(|| before.iter().position(&f))
}

struct Builder<'a, 'js> {
    ctx: Ctx<'js>,
    known: Known<'a, 'js>,
    names: &'a Names<'js>,
    value: Atom<'js>,
    multi_value: Atom<'js>,
    attributes: Atom<'js>,
}

impl<'a, 'js> Builder<'a, 'js> {
    fn new(ctx: &Ctx<'js>, names: &'a Names<'js>) -> Self {
        Self {
            ctx: ctx.clone(),
            known: Known::with(Some(names)),
            names,
            value: names.get(Prop::Value),
            multi_value: names.get(Prop::MultiValue),
            attributes: names.get(Prop::Attributes),
        }
    }

    fn object(&self) -> rquickjs::Result<Object<'js>> {
        Object::new(self.ctx.clone())
    }

    fn text(&mut self, s: &'a str) -> rquickjs::Result<Value<'js>> {
        let value = rquickjs::String::from_str(self.ctx.clone(), s)?.into_value();
        self.known.strings.push((value.clone(), s));
        Ok(value)
    }

    fn name(&mut self, s: &'a str) -> rquickjs::Result<Atom<'js>> {
        let atom = Atom::from_str(self.ctx.clone(), s)?;
        self.known.names.push((atom.clone(), s));
        Ok(atom)
    }

    /// `obj[name] = text`, defined.
    fn set_text(&mut self, obj: &Object<'js>, name: Prop, text: &'a str) -> rquickjs::Result<()> {
        let text = self.text(text)?;
        obj.set(self.names.get(name), text)
    }

    /// `obj[name] = value`, defined.
    fn set(&mut self, obj: &Object<'js>, name: Prop, value: impl IntoJs<'js>) -> rquickjs::Result<()> {
        obj.set(self.names.get(name), value)
    }

    fn multi_value_map(&mut self, map: &'a MultiValueMap) -> rquickjs::Result<Object<'js>> {
        let out = self.object()?;
        for (name, values) in map.iter() {
            let entry = self.object()?;
            let first = self.text(values.first().map_or("", String::as_str))?;
            entry.set(self.value.clone(), first)?;
            if values.len() > 1 {
                let multi = rquickjs::Array::new(self.ctx.clone())?;
                for (i, v) in values.iter().enumerate() {
                    let item = self.object()?;
                    let v = self.text(v)?;
                    item.set(self.value.clone(), v)?;
                    multi.set(i, item)?;
                }
                entry.set(self.multi_value.clone(), multi)?;
            }
            let name = self.name(name)?;
            define(&out, name, entry)?;
        }
        Ok(out)
    }

    fn response_cookies(&mut self, cookies: &'a ResponseCookies) -> rquickjs::Result<Object<'js>> {
        let out = self.object()?;
        for (name, values) in cookies.iter() {
            let entry = self.object()?;
            let first = values.first();
            let value = self.text(first.map_or("", |c| c.value.as_str()))?;
            entry.set(self.value.clone(), value)?;
            let attributes = self.text(first.map_or("", |c| c.attributes.as_str()))?;
            entry.set(self.attributes.clone(), attributes)?;
            if values.len() > 1 {
                let multi = rquickjs::Array::new(self.ctx.clone())?;
                for (i, c) in values.iter().enumerate() {
                    let item = self.object()?;
                    let value = self.text(&c.value)?;
                    item.set(self.value.clone(), value)?;
                    let attributes = self.text(&c.attributes)?;
                    item.set(self.attributes.clone(), attributes)?;
                    multi.set(i, item)?;
                }
                entry.set(self.multi_value.clone(), multi)?;
            }
            let name = self.name(name)?;
            define(&out, name, entry)?;
        }
        Ok(out)
    }

    fn response(&mut self, response: &'a Response) -> rquickjs::Result<Object<'js>> {
        let out = self.object()?;
        self.set(&out, Prop::StatusCode, i32::from(response.status_code))?;
        if let Some(d) = &response.status_description {
            self.set_text(&out, Prop::StatusDescription, d)?;
        }
        let headers = self.multi_value_map(&response.headers)?;
        self.set(&out, Prop::Headers, headers)?;
        let cookies = self.response_cookies(&response.cookies)?;
        self.set(&out, Prop::Cookies, cookies)?;
        if let Some(body) = &response.body {
            let b = self.object()?;
            let (encoding, data) = match body {
                crate::event::Body::Text(s) => ("text", s),
                crate::event::Body::Base64(s) => ("base64", s),
            };
            self.set_text(&b, Prop::Encoding, encoding)?;
            self.set_text(&b, Prop::Data, data)?;
            self.set(&out, Prop::Body, b)?;
        }
        Ok(out)
    }
}

/// Defines an own, enumerable, writable, configurable data property, as `JSON.parse` does
/// (never runs setters: names such as `__proto__` or `constructor` become own properties).
/// Used for names that come from the request; the fixed names of the event's shape are
/// plainly assigned, which has the same effect and costs less: the frozen `Object.prototype`
/// and `Array.prototype` have no property of those names or indices, so assignment creates
/// the same own data property.
fn define<'js>(obj: &Object<'js>, key: impl rquickjs::IntoAtom<'js>, value: impl IntoJs<'js>) -> rquickjs::Result<()> {
    obj.prop(key, Property::from(value).writable().enumerable().configurable())
}

/// Builds the event object (the prelude adds the request's `rawQueryString` method), and
/// what it is made of for [`Serializer`].
pub(crate) fn build_event<'a, 'js>(
    ctx: &Ctx<'js>,
    names: &'a Names<'js>,
    event: &EventData<'a>,
) -> rquickjs::Result<(Object<'js>, Known<'a, 'js>)> {
    let mut b = Builder::new(ctx, names);
    let root = b.object()?;
    b.set_text(&root, Prop::Version, "1.0")?;
    let context = b.object()?;
    b.set_text(&context, Prop::DistributionDomainName, &event.context.distribution_domain_name)?;
    b.set_text(&context, Prop::DistributionId, &event.context.distribution_id)?;
    b.set_text(&context, Prop::EventType, event.event_type.as_str())?;
    b.set_text(&context, Prop::RequestId, &event.context.request_id)?;
    b.set(&root, Prop::Context, context)?;
    let viewer = b.object()?;
    b.set_text(&viewer, Prop::Ip, event.viewer_ip)?;
    b.set(&root, Prop::Viewer, viewer)?;
    let request = b.object()?;
    b.set_text(&request, Prop::Method, &event.request.method)?;
    b.set_text(&request, Prop::Uri, &event.request.uri)?;
    let querystring = b.multi_value_map(&event.request.querystring)?;
    b.set(&request, Prop::Querystring, querystring)?;
    let headers = b.multi_value_map(&event.request.headers)?;
    b.set(&request, Prop::Headers, headers)?;
    let cookies = b.multi_value_map(&event.request.cookies)?;
    b.set(&request, Prop::Cookies, cookies)?;
    b.set(&root, Prop::Request, request)?;
    if let Some(response) = event.response {
        let response = b.response(response)?;
        b.set(&root, Prop::Response, response)?;
    }
    Ok((root, b.known))
}

/// Why reading the result stopped.
pub(crate) enum ReadError {
    /// JavaScript threw (a `toJSON`, a getter, a cycle, a BigInt…): the pending exception.
    Js(rquickjs::Error),
    /// The result's JSON form would exceed the memory limit.
    TooLarge,
    /// The result has no JSON form (a lone surrogate in a string).
    Invalid(String),
}

impl From<rquickjs::Error> for ReadError {
    fn from(e: rquickjs::Error) -> Self {
        Self::Js(e)
    }
}

/// The property key a value was read from (what `toJSON` receives).
enum Key<'a, 'js> {
    Top,
    Name(&'a Atom<'js>),
    Index(u32),
}

/// Reads a handler's result as `JSON.stringify` would see it.
pub(crate) struct Serializer<'a, 'js> {
    ctx: Ctx<'js>,
    known: Known<'a, 'js>,
    to_json: Atom<'js>,
    length: Atom<'js>,
    zero: Atom<'js>,
    raw_json: Atom<'js>,
    object_prototype: Object<'js>,
    /// The realm's `JSON.stringify` of a value as the result of a `toJSON` call
    /// (`JSON.stringify({ toJSON: () => v })`): serialises `v` without looking up its own `toJSON`.
    stringify: JsFunction<'js>,
    stack: Vec<Object<'js>>,
    budget: usize,
}

impl<'a, 'js> Serializer<'a, 'js> {
    pub(crate) fn new(
        ctx: &Ctx<'js>,
        names: &Names<'js>,
        known: Known<'a, 'js>,
        object_prototype: Object<'js>,
        stringify: JsFunction<'js>,
        budget: usize,
    ) -> rquickjs::Result<Self> {
        Ok(Self {
            ctx: ctx.clone(),
            known,
            to_json: names.get(Prop::ToJson),
            length: names.get(Prop::Length),
            zero: Atom::from_u32(ctx.clone(), 0)?,
            raw_json: names.get(Prop::RawJson),
            object_prototype,
            stringify,
            stack: Vec::new(),
            budget,
        })
    }

    /// `JSON.parse(JSON.stringify(value))`; `None` when `JSON.stringify` returns `undefined`.
    pub(crate) fn read(&mut self, value: Value<'js>) -> Result<Option<Json>, ReadError> {
        self.property(&Key::Top, value, 0)
    }

    fn spend(&mut self, bytes: usize) -> Result<(), ReadError> {
        self.budget = self.budget.checked_sub(bytes + ITEM_COST).ok_or(ReadError::TooLarge)?;
        Ok(())
    }

    /// SerializeJSONProperty: the `toJSON` step, then the value.
    fn property(&mut self, key: &Key<'_, 'js>, value: Value<'js>, depth: usize) -> Result<Option<Json>, ReadError> {
        let value = match value.as_object() {
            Some(obj) => {
                let to_json: Value<'js> = obj.get(self.to_json.clone())?;
                match to_json.as_function() {
                    Some(f) => {
                        let key = match key {
                            Key::Top => Value::from_string(rquickjs::String::from_str(self.ctx.clone(), "")?),
                            Key::Name(atom) => atom.to_value()?,
                            Key::Index(i) => i.to_string().into_js(&self.ctx)?,
                        };
                        f.call((This(value.clone()), key))?
                    }
                    None => {
                        let obj = obj.clone();
                        return self.object(value, obj, depth);
                    }
                }
            }
            // BigInts (primitive `toJSON` lookups and the error they end in) stay with the engine.
            None if value.is_big_int() => return self.delegate(value),
            None => value,
        };
        self.value(value, depth)
    }

    /// SerializeJSONProperty after the `toJSON` step.
    fn value(&mut self, value: Value<'js>, depth: usize) -> Result<Option<Json>, ReadError> {
        if let Some(s) = value.as_string() {
            if let Some(text) = self.known.string(&value) {
                let text = text.to_owned();
                self.spend(text.len())?;
                return Ok(Some(Json::String(text)));
            }
            return match s.to_string() {
                Ok(text) => {
                    self.spend(text.len())?;
                    Ok(Some(Json::String(text)))
                }
                // Not UTF-8 (a lone surrogate): let the engine write it and report what parsing says.
                Err(_) => self.delegate(value),
            };
        }
        if let Some(i) = value.as_int() {
            self.spend(0)?;
            return Ok(Some(Json::Number(Number::from(i))));
        }
        if let Some(f) = value.as_float() {
            self.spend(0)?;
            return Ok(Some(number(f)));
        }
        if let Some(b) = value.as_bool() {
            self.spend(0)?;
            return Ok(Some(Json::Bool(b)));
        }
        if value.is_null() {
            self.spend(0)?;
            return Ok(Some(Json::Null));
        }
        if value.is_big_int() {
            return self.delegate(value);
        }
        match value.as_object() {
            Some(obj) => {
                let obj = obj.clone();
                self.object(value, obj, depth)
            }
            // undefined, symbols.
            None => Ok(None),
        }
    }

    /// SerializeJSONProperty after the `toJSON` step, for an object (`obj` is `value`).
    fn object(&mut self, value: Value<'js>, obj: Object<'js>, depth: usize) -> Result<Option<Json>, ReadError> {
        if value.is_function() {
            return Ok(None);
        }
        if value.is_proxy() || depth >= MAX_NATIVE_DEPTH || self.stack.contains(&obj) {
            // Proxies run traps the engine orders itself; cycles end in its own TypeError.
            return self.delegate(value);
        }
        if value.is_array() {
            let length: Value<'js> = obj.get(self.length.clone())?;
            let Some(length) = length.as_int().and_then(|n| u32::try_from(n).ok()) else {
                return self.delegate(value);
            };
            self.spend(0)?;
            self.stack.push(obj.clone());
            let mut items = Vec::with_capacity((length as usize).min(1024));
            for i in 0..length {
                // Holes and `undefined` still cost: a sparse array must not run unbounded.
                self.spend(0)?;
                let item: Value<'js> = obj.get(i)?;
                items.push(self.property(&Key::Index(i), item, depth + 1)?.unwrap_or(Json::Null));
            }
            self.stack.pop();
            return Ok(Some(Json::Array(items)));
        }
        // Only ordinary objects with Object.prototype or no prototype are read here; anything
        // else might be a boxed primitive or a `JSON.rawJSON` value, which serialise differently.
        let ordinary = match obj.get_prototype() {
            None => true,
            Some(proto) => proto == self.object_prototype,
        };
        if !ordinary {
            return self.delegate(value);
        }
        let keys: Vec<Atom<'js>> = obj.keys::<Atom<'js>>().collect::<rquickjs::Result<_>>()?;
        // A boxed primitive whose prototype was replaced has no own keys, or index keys
        // (strings); a `JSON.rawJSON` value has a single `rawJSON` key.
        let unusual = match keys.first() {
            None => true,
            Some(first) => *first == self.zero || (keys.len() == 1 && *first == self.raw_json),
        };
        if unusual {
            return self.delegate(value);
        }
        self.spend(0)?;
        self.stack.push(obj.clone());
        let mut map = Map::with_capacity(keys.len());
        for key in &keys {
            let item: Value<'js> = obj.get(key.clone())?;
            if let Some(json) = self.property(&Key::Name(key), item, depth + 1)? {
                let name = match self.known.name(key) {
                    Some(name) => name.to_owned(),
                    // Not `Atom::to_string`: it stops at NUL and does not check UTF-8.
                    None => key.to_js_string()?.to_string().map_err(|_| {
                        ReadError::Invalid("a property name holds a lone surrogate and cannot be read".into())
                    })?,
                };
                self.spend(name.len())?;
                map.push_unique(name, json);
            }
        }
        self.stack.pop();
        Ok(Some(Json::Object(map)))
    }

    /// Lets the realm's `JSON.stringify` serialise `value` (as a `toJSON` result) and parses its text.
    fn delegate(&mut self, value: Value<'js>) -> Result<Option<Json>, ReadError> {
        let text: Option<String> = match self.stringify.call((value,)) {
            Ok(text) => text,
            Err(rquickjs::Error::FromJs { .. }) => {
                return Err(ReadError::Invalid("the result holds a lone surrogate and cannot be read".into()));
            }
            Err(e) => return Err(ReadError::Js(e)),
        };
        let Some(text) = text else { return Ok(None) };
        self.spend(text.len())?;
        serde_json::from_str::<serde_json::Value>(&text)
            .map(|v| Some(Json::from(&v)))
            .map_err(|e| ReadError::Invalid(e.to_string()))
    }
}

/// A float as `JSON.parse` reads `JSON.stringify`'s text of it.
fn number(f: f64) -> Json {
    if !f.is_finite() {
        return Json::Null;
    }
    // JavaScript writes integral values below 1e21 without a fraction or exponent, which
    // JSON parsing reads back as integers when they fit.
    if f.fract() == 0.0 && f.abs() < 1e21 {
        if (0.0..18_446_744_073_709_551_616.0).contains(&f) {
            return Json::Number(Number::from(f as u64));
        }
        if (-9_223_372_036_854_775_808.0..0.0).contains(&f) {
            return Json::Number(Number::from(f as i64));
        }
    }
    Number::from_f64(f).map_or(Json::Null, Json::Number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Body, ResponseCookies, SetCookie, event_json};
    use rquickjs::{Context, Runtime};
    use serde_json::Value;

    #[test]
    fn floats_read_back_like_json_text() {
        for (f, text) in [
            (1.5, "1.5"),
            (100.0, "100"),
            (-0.0, "0"),
            (-3.0, "-3"),
            (1e20, "100000000000000000000"),
            (1e21, "1e21"),
            (0.1, "0.1"),
            (-1e-7, "-1e-7"),
        ] {
            assert_eq!(number(f), Json::from(&serde_json::from_str::<Value>(text).unwrap()), "{f}");
        }
        assert_eq!(number(f64::NAN), Json::Null);
        assert_eq!(number(f64::INFINITY), Json::Null);
    }

    fn with_context(f: impl FnOnce(&Ctx<'_>)) {
        let runtime = Runtime::new().unwrap();
        let context = Context::full(&runtime).unwrap();
        context.with(|ctx| f(&ctx));
    }

    fn serializer<'a, 'js>(ctx: &Ctx<'js>, budget: usize) -> Serializer<'a, 'js> {
        let as_json: JsFunction<'js> = ctx.eval("(v) => JSON.stringify({ toJSON() { return v; } })").unwrap();
        let proto: Object<'js> = ctx.eval("Object.prototype").unwrap();
        let names = SavedNames::new(ctx).unwrap().restore(ctx).unwrap();
        Serializer::new(ctx, &names, Known::none(), proto, as_json, budget).unwrap()
    }

    /// What reading gives, as text comparable with `JSON.stringify`'s: the JSON, `undefined`, or the error.
    fn read_natively<'js>(ctx: &Ctx<'js>, value: rquickjs::Value<'js>) -> String {
        match serializer(ctx, 1 << 20).read(value) {
            Ok(Some(json)) => serde_json::Value::from(&json).to_string(),
            Ok(None) => "undefined".into(),
            Err(ReadError::Js(_)) => format!("throws {}", crate::engine::describe(&ctx.catch())),
            Err(ReadError::TooLarge) => "too large".into(),
            Err(ReadError::Invalid(m)) => format!("invalid {m}"),
        }
    }

    fn read_with_json_text<'js>(ctx: &Ctx<'js>, value: rquickjs::Value<'js>) -> String {
        let stringify: JsFunction<'js> = ctx.eval("(v) => JSON.stringify(v)").unwrap();
        match stringify.call::<_, Option<String>>((value,)) {
            Ok(Some(text)) => match serde_json::from_str::<Value>(&text) {
                Ok(json) => json.to_string(),
                Err(e) => format!("invalid {e}"),
            },
            Ok(None) => "undefined".into(),
            Err(_) => format!("throws {}", crate::engine::describe(&ctx.catch())),
        }
    }

    #[test]
    fn results_read_exactly_as_json_stringify_writes_them() {
        // Each case builds its value afresh and records what getters and toJSON see in `log`.
        let cases = [
            "({ a: 1, b: 'x', c: [1, 'two', null, true], d: { e: {} }, f: -0, g: 1.5, h: 1e21 })",
            "({ u: undefined, f() {}, s: Symbol('s'), [Symbol('k')]: 1, n: NaN, i: -Infinity })",
            "[undefined, function () {}, Symbol('x'), , 4]",
            "({ get a() { log.push('get a'); return { toJSON(k) { log.push('toJSON ' + k); return [k]; } }; }, b: 2 })",
            "[{ toJSON(k) { log.push(typeof k + ' ' + k); return undefined; } }]",
            "({ d: new Date(0), m: new Map([[1, 2]]), t: new Uint8Array([1, 2]), e: new Error('x') })",
            "({ n: new Number(3), s: new String('ab'), b: new Boolean(false) })",
            "({ n: Object.setPrototypeOf(new Number(3), Object.prototype), s: Object.setPrototypeOf(new String('ab'), null) })",
            "({ r: JSON.rawJSON('12345678901234567890'), o: Object.assign(Object.create(null), { rawJSON: 'x' }) })",
            "({ '0': 'zero', '1': 'one', x: 'x' })",
            "({ p: new Proxy({ a: 1 }, { get(t, k) { log.push('get ' + String(k)); return t[k]; } }) })",
            "({ p: new Proxy([1, 2], {}) })",
            "(class { constructor() { this.x = 1; } }, new (class { constructor() { this.x = 1; } })())",
            "({ toJSON() { return { toJSON() { return 'inner'; } }; } })",
            "({ toJSON() { return new Date(0); } })",
            "({ toJSON() { return new Number(5); } })",
            "({ big: 1n })",
            "({ nested: { big: Object(2n) } })",
            "(() => { const o = { a: {} }; o.a.self = o; return o; })()",
            "(() => { const a = []; a.push(a); return { a }; })()",
            "(() => { let o = { leaf: 1 }; for (let i = 0; i < 200; i++) o = { o }; return o; })()",
            "({ s: 'lone \\ud800 surrogate' })",
            "({ ['\\ud800']: 1 })",
            "({ ['nul\\u0000key']: 'nul\\u0000value' })",
            "({ get boom() { throw new TypeError('from a getter'); } })",
            "({ toJSON() { throw new RangeError('from toJSON'); } })",
            "Object.assign(Object.create(null), { a: 1, __proto__: 2 })",
            "JSON.parse('{\"__proto__\": {\"x\": 1}, \"constructor\": 1}')",
            "undefined",
            "() => 1",
            "'text'",
            "Object.defineProperty([1, 2, 3], 'extra', { value: 1, enumerable: true })",
            "(() => { const a = [1]; a.length = 3; return a; })()",
        ];
        with_context(|ctx| {
            for case in cases {
                let run = |natively: bool| -> (String, String) {
                    let _: () = ctx.eval("globalThis.log = []").unwrap();
                    let value: rquickjs::Value<'_> = ctx.eval(case).unwrap_or_else(|e| panic!("{case}: {e}"));
                    let out = if natively { read_natively(ctx, value) } else { read_with_json_text(ctx, value) };
                    let log: String = ctx.eval("JSON.stringify(log)").unwrap();
                    (out, log)
                };
                let native = run(true);
                let text = run(false);
                if text.0.starts_with("invalid") {
                    // Lone surrogates: both refuse the result (messages may differ in position).
                    assert!(native.0.starts_with("invalid"), "{case}: {native:?} vs {text:?}");
                    assert_eq!(native.1, text.1, "{case}");
                } else {
                    assert_eq!(native, text, "{case}");
                }
            }
        });
    }

    #[test]
    fn reading_stops_at_the_size_budget() {
        with_context(|ctx| {
            let value: rquickjs::Value<'_> =
                ctx.eval("(() => { const s = 'x'.repeat(100000); return new Array(1000).fill(s); })()").unwrap();
            assert!(matches!(serializer(ctx, 2 << 20).read(value), Err(ReadError::TooLarge)));
            let value: rquickjs::Value<'_> =
                ctx.eval("(() => { const a = []; a.length = 2 ** 31 - 1; return a; })()").unwrap();
            assert!(matches!(serializer(ctx, 2 << 20).read(value), Err(ReadError::TooLarge)));
        });
    }

    #[test]
    fn events_are_built_exactly_as_their_json_parses() {
        let headers: Vec<(&str, &[u8])> = vec![
            ("host", b"example.com"),
            ("__proto__", b"p"),
            ("constructor", b"c"),
            ("0", b"zero"),
            ("x-multi", b"one"),
            ("x-multi", b"two"),
            ("x-odd", b"a\"b\\c\x01\xe9\n"),
            ("cookie", b"a=1; a=2; toString=3"),
        ];
        let request = Request::from_http("GET", "/p\u{e9}?x=1&x=2&__proto__=3&y", headers);
        let mut response = Response::from_http(
            302,
            Some("Found"),
            vec![("location", b"/x".as_slice()), ("set-cookie", b"id=1; Secure"), ("set-cookie", b"id=2")],
        );
        response.body = Some(Body::Text("hello".into()));
        let mut plain = Response::from_http(200, None, Vec::<(&str, &[u8])>::new());
        plain.cookies = ResponseCookies::new();
        plain.cookies.append("one", SetCookie { value: "v".into(), attributes: String::new() });
        let context = EventContext {
            distribution_domain_name: "d.cloudfront.net".into(),
            distribution_id: "E1".into(),
            request_id: "r\u{0}id".into(),
        };
        with_context(|ctx| {
            for (event_type, response) in [
                (EventType::ViewerRequest, None),
                (EventType::ViewerResponse, Some(&response)),
                (EventType::ViewerResponse, Some(&plain)),
            ] {
                let data =
                    EventData { event_type, context: &context, viewer_ip: "192.0.2.1", request: &request, response };
                let names = SavedNames::new(ctx).unwrap().restore(ctx).unwrap();
                let (built, _) = build_event(ctx, &names, &data).unwrap();
                let json = event_json(event_type, &context, "192.0.2.1", &request, response);
                // Same keys in the same order, same values, own data properties only.
                let compare: JsFunction<'_> = ctx
                    .eval(
                        r#"(function (built, json) {
                            const parsed = JSON.parse(json);
                            const describe = (v) => {
                                if (typeof v !== "object" || v === null) return typeof v + ":" + String(v);
                                const own = Reflect.ownKeys(v).map((k) => {
                                    const d = Object.getOwnPropertyDescriptor(v, k);
                                    return [String(k), d.writable, d.enumerable, d.configurable, describe(d.value)];
                                });
                                return [Array.isArray(v), Object.getPrototypeOf(v) === (Array.isArray(v) ? Array.prototype : Object.prototype), own];
                            };
                            return JSON.stringify(describe(built)) === JSON.stringify(describe(parsed));
                        })"#,
                    )
                    .unwrap();
                assert!(compare.call::<_, bool>((built, json)).unwrap(), "{event_type:?}");
            }
        });
    }
}
