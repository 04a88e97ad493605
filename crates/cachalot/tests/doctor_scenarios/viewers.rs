//! Realistic viewers: 40 people on nine real browsers (their own `User-Agent`, `Accept`,
//! `Accept-Encoding` and `Accept-Language`), each with analytics cookies (`_ga`, `_gid`) and
//! half of them logged in (`sessionid`), each near one of the two POPs; and the schedule of
//! what they request, the same for every run of a seed.

use super::spec::{QueryTraffic, Scenario};

/// A browser as it introduces itself.
pub(crate) struct Browser {
    pub(crate) user_agent: &'static str,
    pub(crate) accept_image: &'static str,
    pub(crate) accept_page: &'static str,
    pub(crate) accept_encoding: &'static str,
}

const CHROMIUM_IMAGE: &str = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8";
const CHROMIUM_PAGE: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7";
const FIREFOX_IMAGE: &str = "image/avif,image/webp,*/*";
const FIREFOX_PAGE: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
const SAFARI_IMAGE: &str = "image/webp,image/avif,image/jxl,image/heic,image/heic-sequence,video/*;q=0.8,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5";
const SAFARI_PAGE: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

/// Nine browsers and how many of the 40 viewers use each.
pub(crate) const BROWSERS: [(Browser, usize); 9] = [
    (
        Browser {
            user_agent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
            accept_image: CHROMIUM_IMAGE,
            accept_page: CHROMIUM_PAGE,
            accept_encoding: "gzip, deflate, br, zstd",
        },
        12,
    ),
    (
        Browser {
            user_agent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
            accept_image: CHROMIUM_IMAGE,
            accept_page: CHROMIUM_PAGE,
            accept_encoding: "gzip, deflate, br, zstd",
        },
        5,
    ),
    (
        Browser {
            user_agent: "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
            accept_image: CHROMIUM_IMAGE,
            accept_page: CHROMIUM_PAGE,
            accept_encoding: "gzip, deflate, br, zstd",
        },
        6,
    ),
    (
        Browser {
            user_agent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0",
            accept_image: CHROMIUM_IMAGE,
            accept_page: CHROMIUM_PAGE,
            accept_encoding: "gzip, deflate, br, zstd",
        },
        4,
    ),
    (
        Browser {
            user_agent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
            accept_image: FIREFOX_IMAGE,
            accept_page: FIREFOX_PAGE,
            accept_encoding: "gzip, deflate, br, zstd",
        },
        3,
    ),
    (
        Browser {
            user_agent: "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
            accept_image: FIREFOX_IMAGE,
            accept_page: FIREFOX_PAGE,
            accept_encoding: "gzip, deflate, br, zstd",
        },
        1,
    ),
    (
        Browser {
            user_agent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15",
            accept_image: SAFARI_IMAGE,
            accept_page: SAFARI_PAGE,
            accept_encoding: "gzip, deflate, br",
        },
        3,
    ),
    (
        Browser {
            user_agent: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1",
            accept_image: SAFARI_IMAGE,
            accept_page: SAFARI_PAGE,
            accept_encoding: "gzip, deflate, br",
        },
        5,
    ),
    (
        Browser {
            user_agent: "Mozilla/5.0 (Linux; Android 13; SM-S901B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36",
            accept_image: CHROMIUM_IMAGE,
            accept_page: CHROMIUM_PAGE,
            accept_encoding: "gzip, deflate, br",
        },
        1,
    ),
];

const LANGUAGES: [&str; 5] =
    ["en-US,en;q=0.9", "en-GB,en;q=0.9", "de-DE,de;q=0.9,en;q=0.8", "fr-FR,fr;q=0.9,en;q=0.7", "en-US,en;q=0.5"];

/// One viewer.
pub(crate) struct Viewer {
    pub(crate) browser: &'static Browser,
    pub(crate) language: &'static str,
    pub(crate) cookie: String,
    /// 0 or 1: the POP this viewer reaches.
    pub(crate) pop: usize,
}

/// splitmix64: small, seedable, the same everywhere.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { ((u128::from(self.next()) * u128::from(n)) >> 64) as u64 }
    }
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// A Zipf-like rank in `[0, n)`: a few objects are popular, most are not.
    pub(crate) fn zipf(&mut self, n: u64) -> u64 {
        let u = self.unit();
        ((((n + 1) as f64).powf(u) - 1.0) as u64).min(n.saturating_sub(1))
    }
}

/// The 40 viewers of a seed; about two thirds reach the first POP.
pub(crate) fn viewers(seed: u64) -> Vec<Viewer> {
    let mut rng = Rng(seed);
    let mut out = Vec::new();
    for (browser, count) in &BROWSERS {
        for _ in 0..*count {
            let ga =
                format!("GA1.1.{}.{}", 1_000_000_000 + rng.below(8_999_999_999), 1_700_000_000 + rng.below(9_999_999));
            let gid =
                format!("GA1.1.{}.{}", 1_000_000_000 + rng.below(8_999_999_999), 1_714_000_000 + rng.below(99_999));
            let mut cookie = format!("_ga={ga}; _gid={gid}");
            if rng.below(2) == 0 {
                cookie.push_str(&format!("; sessionid={:016x}{:016x}", rng.next(), rng.next()));
            }
            let language = LANGUAGES[rng.below(LANGUAGES.len() as u64) as usize];
            let pop = usize::from(rng.below(3) == 0);
            out.push(Viewer { browser, language, cookie, pop });
        }
    }
    out
}

/// One request of the schedule.
#[derive(Debug, Clone)]
pub(crate) struct Planned {
    /// Milliseconds after the start.
    pub(crate) at_ms: u64,
    pub(crate) scenario: usize,
    pub(crate) viewer: usize,
    /// Path and query.
    pub(crate) target: String,
}

/// What every viewer requests over `duration_ms`, in time order.
pub(crate) fn schedule(scenarios: &[Scenario], viewers: &[Viewer], duration_ms: u64, seed: u64) -> Vec<Planned> {
    let mut rng = Rng(seed ^ 0x5EED);
    let mut out = Vec::new();
    for (index, s) in scenarios.iter().enumerate() {
        let objects = s.traffic.objects;
        let count = (s.traffic.rate * duration_ms as f64 / 1000.0) as usize;
        for n in 0..count {
            let at_ms = rng.below(duration_ms);
            let viewer = rng.below(viewers.len() as u64) as usize;
            let object = rng.zipf(objects);
            let path = format!("/{}/{}{object}.{}", s.prefix, s.object_stem(), s.extension());
            let query = match s.traffic.query {
                QueryTraffic::None => String::new(),
                QueryTraffic::Busting => match rng.below(10) {
                    0..=2 => format!("utm_source=newsletter&utm_medium=email&utm_campaign=spring-{}", rng.below(20)),
                    3..=4 => format!("fbclid=IwAR{:012x}", rng.below(1 << 40)),
                    5 => format!("_={}", 1_714_000_000_000 + at_ms + n as u64),
                    _ => String::new(),
                },
                QueryTraffic::Width => format!("w={}", [320, 640, 1280][rng.below(3) as usize]),
                QueryTraffic::Timestamp => format!("v={}", 1_714_000_000_000 + at_ms * 7 + n as u64),
            };
            let target = if query.is_empty() { path } else { format!("{path}?{query}") };
            out.push(Planned { at_ms, scenario: index, viewer, target });
        }
    }
    out.sort_by_key(|p| (p.at_ms, p.scenario, p.viewer));
    out
}
