//! Webhook deliveries over HTTP: core's `WebhookSender`, with the SSRF guard.
//!
//! A URL is parsed as written, never normalised, by the workspace's one URL parser
//! ([`signet_proto::web_url`]): `https://` (or `http://`, only to a loopback address the
//! operator allowed), no user info, a host that is a DNS name, a dotted-quad IPv4 address or a
//! bracketed IPv6 address, each as the parser writes it. Hosts that URL parsers would read as
//! numbers in another form (`2130706433`, `0x7f.1`, `0177.0.0.1`, `127.1`) are refused rather
//! than converted. The host is resolved, and every address it resolves to must be public (not
//! loopback, private, CGNAT, link-local, metadata, unique-local, multicast, unspecified,
//! documentation or reserved, including IPv4 forms hidden in IPv6: mapped, compatible, NAT64,
//! 6to4, Teredo) unless it lies in a range the operator allowed (`webhook_allow_cidrs`). The
//! request then goes to the address that was checked (the client's resolver is pinned to it),
//! so a DNS answer that changes between the check and the connection (rebinding) cannot move
//! it. The check runs when a webhook is created or changed and again before every attempt.
//! Redirects are never followed, the attempt has a time limit, and the answer's body is never
//! read.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use ipnet::IpNet;
use signet_core::webhook::{OutgoingDelivery, SendError, SendOutcome, WebhookSender};
use signet_proto::web_url::WebUrl;

/// How long name resolution may take.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Sends deliveries with reqwest, behind the address guard.
#[derive(Debug, Clone)]
pub struct HttpSender {
    /// Ranges the operator allowed despite the guard.
    allow: Vec<IpNet>,
    /// The whole attempt's limit.
    timeout: Duration,
}

/// Where an attempt goes, once checked.
#[derive(Debug)]
pub(crate) struct Target {
    /// The host as written (a DNS name, or an address literal).
    pub(crate) host: String,
    /// The address checked, with the port.
    pub(crate) addr: SocketAddr,
    /// Whether `host` is a name (then the client is pinned to `addr`).
    pub(crate) named: bool,
}

fn refused(why: impl Into<String>) -> SendError {
    SendError::AddressRefused(why.into())
}

/// An IPv4 address that may receive webhooks without an operator's allowance.
fn public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0                                   // "this network", 0.0.0.0
        || a == 10                             // private
        || a == 127                            // loopback
        || (a == 100 && (64..128).contains(&b)) // CGNAT
        || (a == 169 && b == 254)              // link-local, cloud metadata (169.254.169.254)
        || (a == 172 && (16..32).contains(&b)) // private
        || (a == 192 && b == 0 && c == 0)      // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2)      // documentation
        || (a == 192 && b == 168)              // private
        || (a == 198 && (b == 18 || b == 19))  // benchmarking
        || (a == 198 && b == 51 && c == 100)   // documentation
        || (a == 203 && b == 0 && c == 113)    // documentation
        || a >= 224) // multicast, reserved, broadcast
}

/// An IPv6 address that may receive webhooks without an operator's allowance. IPv4 addresses
/// carried inside IPv6 are judged as the IPv4 address they reach.
fn public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return public_v4(v4); // ::ffff:a.b.c.d
    }
    if s[0] == 0x0064 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        // NAT64 (64:ff9b::/96): the embedded IPv4 address is the one reached.
        let [a, b] = s[6].to_be_bytes();
        let [c, d] = s[7].to_be_bytes();
        return public_v4(Ipv4Addr::new(a, b, c, d));
    }
    if s[0] == 0x2002 {
        // 6to4 (2002::/16) relays to the IPv4 address in bits 16..48.
        let [a, b] = s[1].to_be_bytes();
        let [c, d] = s[2].to_be_bytes();
        return public_v4(Ipv4Addr::new(a, b, c, d));
    }
    !(ip.is_unspecified()
        || ip.is_loopback()
        || s[0..6] == [0, 0, 0, 0, 0, 0]       // IPv4-compatible (deprecated), ::/96
        || (s[0] == 0x0064 && s[1] == 0xff9b)   // NAT64 local use, 64:ff9b:1::/48
        || s[0] & 0xfe00 == 0xfc00             // unique local, fc00::/7 (fd00:ec2::254)
        || s[0] & 0xffc0 == 0xfe80             // link-local
        || s[0] & 0xffc0 == 0xfec0             // site-local (deprecated)
        || s[0] & 0xff00 == 0xff00             // multicast
        || (s[0] == 0x2001 && s[1] == 0x0db8)  // documentation
        || (s[0] == 0x2001 && s[1] == 0)       // Teredo hides an IPv4 address
        || (s[0] == 0x0100 && s[1..4] == [0, 0, 0])) // discard-only
}

/// Whether an address is loopback: the workspace's one rule.
fn loopback(ip: IpAddr) -> bool {
    signet_proto::loopback::is_loopback_ip(ip)
}

/// Parses a webhook URL as every URL is parsed ([`signet_proto::web_url`]): as written, never
/// normalised.
fn parse(url: &str) -> Result<WebUrl, SendError> {
    WebUrl::parse(url).map_err(|e| refused(format!("the URL {e}")))
}

impl HttpSender {
    /// A sender that allows `allow` despite the guard and gives each attempt `timeout`.
    pub fn new(allow: Vec<IpNet>, timeout: Duration) -> Self {
        Self { allow, timeout }
    }

    fn allowed(&self, ip: IpAddr) -> bool {
        let mapped = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4),
            IpAddr::V4(_) => None,
        };
        let listed = |ip: IpAddr| self.allow.iter().any(|n| n.contains(&ip));
        if listed(ip) || mapped.is_some_and(listed) {
            return true;
        }
        match ip {
            IpAddr::V4(v4) => public_v4(v4),
            IpAddr::V6(v6) => public_v6(v6),
        }
    }

    /// Parses and resolves `url`, and checks every address it reaches.
    pub(crate) async fn target(&self, url: &str) -> Result<Target, SendError> {
        let parsed = parse(url)?;
        let https = parsed.is_https();
        // The host as reqwest reads it (the same parser), so what is checked is what it connects to.
        let host = parsed.host_str().to_owned();
        let port = parsed.port();
        let literal = parsed.ip();
        let addrs: Vec<SocketAddr> = match literal {
            Some(ip) => vec![SocketAddr::new(ip, port)],
            None => tokio::time::timeout(
                RESOLVE_TIMEOUT,
                tokio::net::lookup_host((host.as_str(), port)),
            )
            .await
            .map_err(|_| SendError::Timeout)?
            .map_err(|_| SendError::Connect)?
            .collect(),
        };
        let Some(first) = addrs.first().copied() else {
            return Err(SendError::Connect);
        };
        for a in &addrs {
            if !self.allowed(a.ip()) {
                return Err(refused(format!(
                    "{host} reaches {}, a private, loopback, link-local or reserved address \
                     (an operator can allow a range with webhook_allow_cidrs)",
                    a.ip()
                )));
            }
        }
        if !https && !addrs.iter().all(|a| loopback(a.ip())) {
            return Err(refused(
                "plain http is allowed only to an allowed loopback address; use https",
            ));
        }
        Ok(Target {
            named: literal.is_none(),
            host,
            addr: first,
        })
    }
}

#[async_trait]
impl WebhookSender for HttpSender {
    async fn check(&self, url: &str) -> Result<(), SendError> {
        self.target(url).await.map(drop)
    }

    async fn send(&self, d: &OutgoingDelivery) -> SendOutcome {
        let started = Instant::now();
        let elapsed =
            |started: Instant| i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let target = match self.target(&d.url).await {
            Ok(t) => t,
            Err(error) => {
                return SendOutcome {
                    status_code: None,
                    error: Some(error),
                    duration_ms: elapsed(started),
                };
            }
        };
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(self.timeout)
            .connect_timeout(self.timeout.min(Duration::from_secs(10)))
            .pool_max_idle_per_host(0);
        if target.named {
            // Pinned: the connection goes to the address checked above, whatever DNS says now.
            builder = builder.resolve(&target.host, target.addr);
        }
        let client = match builder.build() {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "cannot build the webhook HTTP client");
                return SendOutcome {
                    status_code: None,
                    error: Some(SendError::Other),
                    duration_ms: elapsed(started),
                };
            }
        };
        let mut req = client.post(&d.url).body(d.body.clone());
        for (name, value) in &d.headers {
            req = req.header(name.as_str(), value.as_str());
        }
        match req.send().await {
            Ok(resp) => {
                let status = resp.status();
                // The body is never read: nothing the receiver says is kept or logged.
                drop(resp);
                let error = if status.is_success() {
                    None
                } else if status.is_redirection() {
                    Some(SendError::Redirect)
                } else {
                    Some(SendError::Status)
                };
                SendOutcome {
                    status_code: Some(status.as_u16()),
                    error,
                    duration_ms: elapsed(started),
                }
            }
            Err(e) => {
                let error = if e.is_timeout() {
                    SendError::Timeout
                } else if e.is_connect() {
                    SendError::Connect
                } else if e.is_redirect() {
                    SendError::Redirect
                } else {
                    SendError::Other
                };
                SendOutcome {
                    status_code: None,
                    error: Some(error),
                    duration_ms: elapsed(started),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard() -> HttpSender {
        HttpSender::new(Vec::new(), Duration::from_secs(1))
    }

    fn refused_now(url: &str) -> bool {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        matches!(
            rt.block_on(guard().check(url)),
            Err(SendError::AddressRefused(_))
        )
    }

    #[test]
    fn private_metadata_and_disguised_addresses_are_refused() {
        for url in [
            "https://127.0.0.1/",
            "https://localhost/",
            "https://10.1.2.3/x",
            "https://172.16.0.1/",
            "https://192.168.1.1/",
            "https://100.64.0.1/",
            "https://169.254.169.254/latest/meta-data/",
            "https://0.0.0.0/",
            "https://[::1]/",
            "https://[::]/",
            "https://[fd00:ec2::254]/",
            "https://[fe80::1]/",
            "https://[ff02::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://[::ffff:7f00:1]/",
            "https://[::ffff:a9fe:a9fe]/",
            "https://[64:ff9b::a9fe:a9fe]/",
            "https://[2002:a9fe:a9fe::1]/",
            "https://2130706433/",
            "https://0x7f.0.0.1/",
            "https://0177.0.0.1/",
            "https://127.1/",
            "https://user@example.com/",
            "http://93.184.215.14/",
            "ftp://example.com/",
            "https://EXAMPLE.com/",
            "https://example.com:0/",
            "https://exa%6dple.com/",
        ] {
            assert!(refused_now(url), "{url} was not refused");
        }
    }

    /// Webhook URLs are read as every URL is (`signet_proto::web_url::CASES`).
    #[test]
    fn urls_follow_the_one_url_table() {
        for (url, want) in signet_proto::web_url::CASES {
            assert_eq!(parse(url).is_ok(), want.outbound, "{url:?}");
        }
        let Err(SendError::AddressRefused(why)) = parse("https://Hooks.Example/x") else {
            panic!("not refused");
        };
        assert!(why.contains("https://hooks.example"), "{why}");
    }

    #[test]
    fn public_addresses_pass_and_allowed_ranges_open_loopback() {
        assert!(public_v4(Ipv4Addr::new(93, 184, 215, 14)));
        assert!(public_v6("2606:4700::1111".parse().unwrap()));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        assert_eq!(
            rt.block_on(guard().check("https://93.184.215.14/hook")),
            Ok(())
        );
        let tests = HttpSender::new(vec!["127.0.0.0/8".parse().unwrap()], Duration::from_secs(1));
        assert_eq!(rt.block_on(tests.check("http://127.0.0.1:9/hook")), Ok(()));
        // Allowing loopback does not allow the private ranges or plain http elsewhere.
        assert!(matches!(
            rt.block_on(tests.check("http://10.0.0.1/")),
            Err(SendError::AddressRefused(_))
        ));
        let private = HttpSender::new(vec!["10.0.0.0/8".parse().unwrap()], Duration::from_secs(1));
        assert!(matches!(
            rt.block_on(private.check("http://10.0.0.1/")),
            Err(SendError::AddressRefused(_))
        ));
        assert_eq!(rt.block_on(private.check("https://10.0.0.1/")), Ok(()));
    }
}
