//! What every request handler, server function and job shares: the store's aggregates,
//! the limits on expensive work, who counts as a trusted proxy, the metrics, and the
//! signal that the server is stopping.

use crate::metrics::Metrics;
use crate::shutdown::Shutdown;
use app::accounts::Lockout;
use app::checkpoint::{CheckpointPolicy, LogKey, Signing, DEFAULT_ORIGIN};
use app::purge_runs::Schedule;
use app::signin::Timeouts;
use app::store::{AccountStore, AuditLog, Maintenance, SessionStore, Store, TokenStore, TreeStore};
use axum::extract::FromRef;
use ipnet::IpNet;
use leptos::prelude::LeptosOptions;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// The name of the site's WASM/JS/CSS files (cargo-leptos's `name`).
pub const OUTPUT_NAME: &str = "certifyclouds";

#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub log: Arc<dyn AuditLog>,
    pub tokens: Arc<dyn TokenStore>,
    pub accounts: Arc<dyn AccountStore>,
    pub sessions: Arc<dyn SessionStore>,
    /// The whole store, for the services that use several of its parts (signing in).
    pub store: Store,
    /// How sessions time out and failed sign-ins lock accounts.
    pub sign_in: Arc<SignInPolicy>,
    pub maintenance: Arc<dyn Maintenance>,
    pub limits: Arc<Limits>,
    pub proxies: Arc<TrustedProxies>,
    pub metrics: Arc<Metrics>,
    pub shutdown: Shutdown,
    /// When this process last wrote down each token's use.
    pub token_uses: Arc<TokenUses>,
    /// The host names (besides addresses and `localhost`) requests may name.
    pub hosts: Arc<AllowedHosts>,
    /// The Merkle tree's rows and checkpoints.
    pub tree: Arc<dyn TreeStore>,
    /// The log's signing key and how checkpoints are made.
    pub signing: Arc<Signing>,
    /// When the retention purge runs (not at all unless `with_purge` schedules it: tests'
    /// servers keep their old entries).
    pub purging: Arc<Schedule>,
}

/// "Last used" for API tokens, written at most once a minute per token and process (see
/// [`app::store::USE_NOTED_EVERY`]), off the request's path.
#[derive(Default)]
pub struct TokenUses {
    noted: Mutex<HashMap<i64, Instant>>,
}

impl TokenUses {
    /// Notes a use of token `id`: written down in the background unless this process did
    /// so within the last minute. A failure is logged; the request goes on regardless.
    pub fn note(&self, tokens: &Arc<dyn TokenStore>, id: i64) {
        let now = Instant::now();
        {
            let Ok(mut noted) = self.noted.lock() else { return };
            if noted.get(&id).is_some_and(|at| now.duration_since(*at) < app::store::USE_NOTED_EVERY) {
                return;
            }
            // Revoked tokens leave their slot behind; the table stays bounded by a sweep.
            if noted.len() > 10_000 {
                noted.retain(|_, at| now.duration_since(*at) < app::store::USE_NOTED_EVERY);
            }
            noted.insert(id, now);
        }
        let tokens = tokens.clone();
        tokio::spawn(async move {
            if let Err(e) = tokens.token_used(id, chrono::Utc::now()).await {
                tracing::warn!(token = id, error = %e, "a token's last use could not be written down");
            }
        });
    }
}

impl AppState {
    pub fn new(store: Store, site_root: &str) -> Self {
        // `cargo leptos watch` tells the page where its live-reload socket listens.
        let reload_port = std::env::var("LEPTOS_RELOAD_PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3001);
        let leptos_options = LeptosOptions::builder()
            .output_name(output_name(site_root))
            .site_root(site_root)
            .reload_port(reload_port)
            .build();
        Self {
            leptos_options,
            store: store.clone(),
            sign_in: Arc::new(SignInPolicy::default()),
            log: store.log,
            tokens: store.tokens,
            accounts: store.accounts,
            sessions: store.sessions,
            maintenance: store.maintenance,
            tree: store.tree,
            // A key in memory until `with_signing` gives the one from the key file (tests
            // and benchmarks keep this one).
            signing: Arc::new(Signing {
                key: LogKey::ephemeral(DEFAULT_ORIGIN).expect("the default origin is a valid key name"),
                policy: CheckpointPolicy::default(),
            }),
            limits: Arc::new(Limits::default()),
            proxies: Arc::new(TrustedProxies::default()),
            metrics: Arc::new(Metrics::default()),
            shutdown: Shutdown::default(),
            token_uses: Arc::new(TokenUses::default()),
            hosts: Arc::new(AllowedHosts::default()),
            purging: Arc::new(Schedule::default()),
        }
    }

    /// Purges by retention on this schedule.
    pub fn with_purge(mut self, schedule: Schedule) -> Self {
        self.purging = Arc::new(schedule);
        self
    }

    /// The log's signing key and checkpoint policy.
    pub fn with_signing(mut self, signing: Signing) -> Self {
        self.signing = Arc::new(signing);
        self
    }

    /// The host names this server answers for, besides addresses and `localhost`.
    pub fn with_allowed_hosts(mut self, hosts: AllowedHosts) -> Self {
        self.hosts = Arc::new(hosts);
        self
    }

    /// Takes the client address from `X-Forwarded-For` when the peer is one of these.
    pub fn with_trusted_proxies(mut self, proxies: TrustedProxies) -> Self {
        self.proxies = Arc::new(proxies);
        self
    }

    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = Arc::new(limits);
        self
    }

    pub fn with_sign_in(mut self, policy: SignInPolicy) -> Self {
        self.sign_in = Arc::new(policy);
        self
    }
}

/// The base name of the site's files: content-hashed by `make build`
/// (`certifyclouds.<hash>`, written to `<site>/output-name`), or the plain name of a
/// build that does not hash (`cargo leptos watch`). `make build` leaves no plain files,
/// so plain files newer than the hashed ones come from such a build, made since: they
/// win, or the server would keep sending a stale bundle marked to be kept for a year.
fn output_name(site_root: &str) -> String {
    let root = std::path::Path::new(site_root);
    let plain = std::env::var("LEPTOS_OUTPUT_NAME").unwrap_or_else(|_| OUTPUT_NAME.to_owned());
    let modified =
        |name: &str| std::fs::metadata(root.join("pkg").join(format!("{name}.js"))).and_then(|m| m.modified()).ok();
    let hashed = std::fs::read_to_string(root.join("output-name")).ok().map(|name| name.trim().to_owned());
    match hashed {
        // Only if the files are there: a stale name must not break the page.
        Some(name) => match (modified(&name), modified(&plain)) {
            (Some(hashed_at), Some(plain_at)) if plain_at > hashed_at => plain,
            (Some(_), _) => name,
            (None, _) => plain,
        },
        None => plain,
    }
}

/// Signing in: when sessions end, when failures lock an account, and how many attempts a
/// client address may make.
#[derive(Debug, Default)]
pub struct SignInPolicy {
    pub timeouts: Timeouts,
    pub lockout: Lockout,
    pub attempts: Attempts,
}

/// Failed sign-ins per client: after `per_minute` failures within a minute from one IPv4
/// address or one IPv6 /64 (what one subscriber is usually given), further attempts from
/// it are refused (429) until the minute is over. Successful sign-ins do not count: a
/// shared office address signing many people in is not held up. The per-account lockout
/// stands behind it whatever the address.
#[derive(Debug)]
pub struct Attempts {
    per_minute: u32,
    windows: Mutex<Windows>,
}

/// Each client's window (when it began and the failures in it), and when expired windows
/// were last dropped.
#[derive(Debug, Default)]
struct Windows {
    by_client: HashMap<IpAddr, (Instant, u32)>,
    swept: Option<Instant>,
}

impl Default for Attempts {
    fn default() -> Self {
        Attempts::new(Attempts::PER_MINUTE)
    }
}

impl Attempts {
    /// The default number of failed sign-ins a minute from one client.
    pub const PER_MINUTE: u32 = 30;
    const WINDOW: Duration = Duration::from_secs(60);
    /// Clients tracked at most: past it (failures from a great many addresses at once) a
    /// new address is not tracked, rather than the memory grow or everyone be refused.
    const CLIENTS: usize = 100_000;

    pub fn new(per_minute: u32) -> Self {
        Attempts { per_minute, windows: Mutex::default() }
    }

    /// The client an address counts as: itself, or for IPv6 its /64.
    fn client(ip: IpAddr) -> IpAddr {
        match ip {
            IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
            v4 => v4,
        }
    }

    fn windows(&self, now: Instant) -> std::sync::MutexGuard<'_, Windows> {
        let mut windows = self.windows.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Expired windows go once a minute at most: never a sweep per request.
        if windows.swept.is_none_or(|at| now.duration_since(at) >= Self::WINDOW) {
            windows.by_client.retain(|_, (began, _)| now.duration_since(*began) < Self::WINDOW);
            windows.swept = Some(now);
        }
        windows
    }

    /// How long `ip` must wait before it may try again, if it has failed too often.
    pub fn refuse(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let windows = self.windows(now);
        let (began, count) = windows.by_client.get(&Self::client(ip))?;
        let open = now.duration_since(*began) < Self::WINDOW;
        (open && *count >= self.per_minute)
            .then(|| Self::WINDOW.saturating_sub(now.duration_since(*began)).max(Duration::from_secs(1)))
    }

    /// Counts a failed sign-in from `ip` at `now`.
    pub fn failed(&self, ip: IpAddr, now: Instant) {
        let mut windows = self.windows(now);
        let client = Self::client(ip);
        if windows.by_client.len() >= Self::CLIENTS && !windows.by_client.contains_key(&client) {
            return;
        }
        let (began, count) = windows.by_client.entry(client).or_insert((now, 0));
        if now.duration_since(*began) >= Self::WINDOW {
            (*began, *count) = (now, 0);
        }
        *count += 1;
    }
}

/// Bounds on work that holds memory or a database connection for long.
#[derive(Debug)]
pub struct Limits {
    /// Exports reading the store at once: each holds a connection and a page cache.
    pub scans: Arc<Semaphore>,
    /// How long an export waits for a turn before it is refused with a 503.
    pub scan_wait: Duration,
    /// PDF reports built at once: each holds its pages in memory until it is sent.
    pub pdf_builds: Arc<Semaphore>,
}

impl Limits {
    pub fn new(scans: usize, scan_wait: Duration, pdf_builds: usize) -> Self {
        Limits { scans: Arc::new(Semaphore::new(scans)), scan_wait, pdf_builds: Arc::new(Semaphore::new(pdf_builds)) }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::new(4, Duration::from_secs(5), 1)
    }
}

/// Proxies whose `X-Forwarded-For` is believed: addresses or networks (`10.0.0.0/8`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(pub Vec<IpNet>);

impl TrustedProxies {
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }
}

impl std::str::FromStr for TrustedProxies {
    type Err = String;

    /// A comma-separated list of addresses and networks.
    fn from_str(text: &str) -> Result<Self, String> {
        app::filter::comma_list(text)
            .map(|item| {
                item.parse::<IpNet>()
                    .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("'{item}' is not an IP address or network (such as 10.0.0.0/8)"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }
}

/// The host names (besides IP addresses and `localhost`) this server answers for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllowedHosts {
    names: Vec<String>,
    /// The one address the server listens on, when it is one (not 0.0.0.0 or ::): then
    /// only it and the loopback addresses are ours.
    listen: Option<IpAddr>,
}

impl std::str::FromStr for AllowedHosts {
    type Err = String;

    /// Comma-separated host names (`audit.example.com`), without a scheme or port.
    fn from_str(s: &str) -> Result<Self, String> {
        let mut names = Vec::new();
        for name in s.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let valid = name.len() <= 253
                && name.split('.').all(|label| {
                    !label.is_empty()
                        && label.len() <= 63
                        && !label.starts_with('-')
                        && !label.ends_with('-')
                        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                });
            if !valid {
                return Err(format!("'{name}' is not a host name (give names like audit.example.com, no port)"));
            }
            names.push(name.to_ascii_lowercase());
        }
        Ok(AllowedHosts { names, listen: None })
    }
}

impl AllowedHosts {
    /// Listening on `ip`: when it is one address, requests must name it (or loopback, or
    /// a listed name); on every address (0.0.0.0, ::) any address of the host is ours.
    pub fn listening_on(mut self, ip: IpAddr) -> Self {
        self.listen = (!ip.is_unspecified()).then_some(ip);
        self
    }

    fn ours(&self, ip: IpAddr) -> bool {
        self.listen.is_none_or(|listen| ip == listen || ip.is_loopback())
    }

    /// Whether a `Host` header's value names this server.
    pub fn allows(&self, host: &str) -> bool {
        let host = host.trim();
        // An IPv6 literal comes bracketed, with or without a port.
        let name =
            match host.strip_prefix('[') {
                Some(rest) => match rest.split_once(']') {
                    Some((ip, _)) => return ip.parse::<IpAddr>().is_ok_and(|ip| self.ours(ip)),
                    None => return false,
                },
                None => host.rsplit_once(':').map_or(host, |(name, port)| {
                    if port.chars().all(|c| c.is_ascii_digit()) {
                        name
                    } else {
                        host
                    }
                }),
            };
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        match name.parse::<IpAddr>() {
            Ok(ip) => self.ours(ip),
            Err(_) => name == "localhost" || self.names.contains(&name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_gets_its_failures_a_minute() {
        let attempts = Attempts::new(10);
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().expect("ip"), "192.0.2.2".parse().expect("ip"));
        let t0 = Instant::now();
        for _ in 0..10 {
            assert_eq!(attempts.refuse(a, t0), None);
            attempts.failed(a, t0);
        }
        let wait = attempts.refuse(a, t0 + Duration::from_secs(20)).expect("one too many");
        assert_eq!(wait, Duration::from_secs(40));
        assert_eq!(attempts.refuse(b, t0), None, "another address has its own count");
        assert_eq!(attempts.refuse(a, t0 + Duration::from_secs(61)), None, "a new minute");
        let net = |last: u16| IpAddr::from([0x2001, 0xdb8, 0, 7, 0, 0, 0, last]);
        for last in 0..10 {
            attempts.failed(net(last), t0);
        }
        assert_eq!(Attempts::default().refuse(a, t0), None, "successes are never counted");
        assert!(attempts.refuse(net(999), t0).is_some(), "the /64 has had its ten");
        assert_eq!(attempts.refuse(IpAddr::from([0x2001, 0xdb8, 0, 8, 0, 0, 0, 1]), t0), None, "another /64");
    }

    #[test]
    fn trusted_proxies_are_addresses_or_networks() {
        let proxies: TrustedProxies = "10.0.0.0/8, 192.0.2.1,::1".parse().expect("parses");
        assert!(proxies.contains("10.1.2.3".parse().expect("ip")));
        assert!(proxies.contains("192.0.2.1".parse().expect("ip")));
        assert!(!proxies.contains("192.0.2.2".parse().expect("ip")));
        assert!(proxies.contains("::1".parse().expect("ip")));
        assert!("10.0.0.0/33".parse::<TrustedProxies>().is_err());
        assert!("proxy.local".parse::<TrustedProxies>().is_err());
        assert_eq!("".parse::<TrustedProxies>(), Ok(TrustedProxies::default()));
    }
}

#[cfg(test)]
mod host_tests {
    use super::AllowedHosts;
    #[test]
    fn addresses_localhost_and_listed_names_are_ours_and_nothing_else() {
        let hosts: AllowedHosts = "audit.example.com, Audit2.Example.org".parse().expect("names");
        for ours in [
            "127.0.0.1:8080",
            "127.0.0.1",
            "10.1.2.3:443",
            "[::1]:8080",
            "[::1]",
            "localhost:8080",
            "LOCALHOST",
            "audit.example.com",
            "audit.example.com:8443",
            "audit2.example.org.",
        ] {
            assert!(hosts.allows(ours), "{ours}");
        }
        for theirs in
            ["evil.example", "evil.example:8080", "audit.example.com.evil.example", "", "[evil]", "127.0.0.1.nip.io"]
        {
            assert!(!hosts.allows(theirs), "{theirs}");
        }
        assert!(!AllowedHosts::default().allows("audit.example.com"), "a name must be listed");
        let one = AllowedHosts::default().listening_on("192.0.2.5".parse().expect("ip"));
        for ours in ["192.0.2.5:8080", "127.0.0.1:8080", "[::1]:8080", "localhost:8080"] {
            assert!(one.allows(ours), "{ours}");
        }
        assert!(!one.allows("192.0.2.6:8080"), "another address than the one listened on");
        let every = AllowedHosts::default().listening_on("0.0.0.0".parse().expect("ip"));
        assert!(every.allows("192.0.2.6:8080"), "listening everywhere, every address is ours");
    }

    #[test]
    fn only_host_names_are_listed() {
        assert_eq!("".parse::<AllowedHosts>(), Ok(AllowedHosts::default()));
        for bad in ["https://audit.example.com", "audit.example.com:443", "a b", "-", "a..b"] {
            assert!(bad.parse::<AllowedHosts>().is_err(), "{bad}");
        }
    }
}
