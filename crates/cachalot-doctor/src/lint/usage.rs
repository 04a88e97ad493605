//! Which key parameters logged requests actually vary, per behavior (for `lint --logs`).

use crate::logs::{self, LineSink, LogInput, LogInputError, ReadStats};
use cachalot_config::model::Snapshot;
use cachalot_policy::parse::{cookie_pairs, query_pairs};
use cachalot_telemetry::Field;
use cachalot_telemetry::parse::{LineError, LogLine};
use std::collections::HashMap;

/// A kind of key parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A query string parameter.
    Query,
    /// A cookie.
    Cookie,
}

#[derive(Debug, Clone, Copy, Default)]
struct NameUsage {
    present: u64,
    first: u64,
    varied: bool,
}

#[derive(Debug, Default)]
struct BehaviorUsage {
    requests: u64,
    names: HashMap<(Kind, String), NameUsage>,
}

/// Parameter usage by (distribution id, behavior index).
#[derive(Debug, Default)]
pub struct KeyUsage {
    by_behavior: HashMap<(String, usize), BehaviorUsage>,
}

fn hash(s: &str) -> u64 {
    cachalot_config::file::fnv1a(s.as_bytes())
}

impl KeyUsage {
    /// Requests logged for a behavior.
    pub fn requests(&self, distribution: &str, behavior: usize) -> u64 {
        self.by_behavior.get(&(distribution.to_owned(), behavior)).map_or(0, |u| u.requests)
    }

    /// How many requests carry the parameter.
    pub fn present(&self, distribution: &str, behavior: usize, kind: Kind, name: &str) -> u64 {
        self.get(distribution, behavior, kind, name).map_or(0, |n| n.present)
    }

    /// 0 when never sent, 1 when it always has the same value, 2 when it varies.
    pub fn distinct(&self, distribution: &str, behavior: usize, kind: Kind, name: &str) -> u64 {
        let requests = self.requests(distribution, behavior);
        match self.get(distribution, behavior, kind, name) {
            None => 0,
            Some(n) if n.present == 0 => 0,
            // Absent on some requests and present on others is a variation too.
            Some(n) if n.varied || n.present < requests => 2,
            Some(_) => 1,
        }
    }

    fn get(&self, distribution: &str, behavior: usize, kind: Kind, name: &str) -> Option<&NameUsage> {
        self.by_behavior.get(&(distribution.to_owned(), behavior))?.names.get(&(kind, name.to_owned()))
    }

    fn merge(&mut self, other: KeyUsage) {
        for (k, u) in other.by_behavior {
            let mine = self.by_behavior.entry(k).or_default();
            mine.requests += u.requests;
            for (n, x) in u.names {
                let m = mine.names.entry(n).or_default();
                if m.present == 0 {
                    m.first = x.first;
                } else if x.present > 0 && x.first != m.first {
                    m.varied = true;
                }
                m.varied |= x.varied;
                m.present += x.present;
            }
        }
    }

    /// Reads logs and records, per behavior, which query strings and cookies vary.
    pub fn from_logs(
        snapshot: &Snapshot,
        inputs: &[LogInput],
        threads: usize,
    ) -> Result<(KeyUsage, ReadStats), LogInputError> {
        let (sinks, stats) = logs::read(inputs, threads, || UsageSink { snapshot, usage: KeyUsage::default() }, None)?;
        let mut all = KeyUsage::default();
        for s in sinks {
            all.merge(s.usage);
        }
        Ok((all, stats))
    }
}

struct UsageSink<'a> {
    snapshot: &'a Snapshot,
    usage: KeyUsage,
}

impl UsageSink<'_> {
    fn note(u: &mut BehaviorUsage, kind: Kind, name: &str, value: &str) {
        let h = hash(value);
        let n = u.names.entry((kind, name.to_owned())).or_default();
        if n.present == 0 {
            n.first = h;
        } else if n.first != h {
            n.varied = true;
        }
        n.present += 1;
    }
}

impl LineSink for UsageSink<'_> {
    fn line(&mut self, line: &LogLine<'_>) -> Result<(), LineError> {
        let host = line.text(Field::Host);
        let Some(d) = self
            .snapshot
            .distribution_for_host(&host)
            .or_else(|| self.snapshot.distribution_for_host(&line.text(Field::HostHeader)))
        else {
            return Ok(());
        };
        let path = line.text(Field::UriStem);
        let index = d.behaviors.iter().position(|b| b.path_pattern.matches(&path)).unwrap_or(d.behaviors.len() - 1);
        let u = self.usage.by_behavior.entry((d.id.clone(), index)).or_default();
        u.requests += 1;
        let query = line.text(Field::UriQuery);
        for (_, name, value) in query_pairs(&query) {
            Self::note(u, Kind::Query, name, value);
        }
        let cookie = line.text(Field::Cookie);
        for (name, value) in cookie_pairs(&cookie) {
            Self::note(u, Kind::Cookie, name, value);
        }
        Ok(())
    }
}
