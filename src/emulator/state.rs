//! The emulator's data: users, sessions, access tokens, channels and repodata, with the seeded demo content.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{Duration as Days, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

pub const DEMO_USER: &str = "alice";
pub const DEMO_PASSWORD: &str = "alice-password";

/// Every scope the emulator offers (a subset of the documented vocabulary).
pub(crate) const SCOPES: [&str; 14] = [
    "artifact:create",
    "artifact:delete",
    "artifact:download",
    "artifact:edit",
    "artifact:view",
    "channel:create",
    "channel:delete",
    "channel:edit",
    "channel:history",
    "channel:view",
    "channel:view-artifacts",
    "subchannel:view",
    "subchannel:view-artifacts",
    "mirror:view",
];

#[derive(Debug, Clone)]
pub struct User {
    pub username: String,
    pub password: String,
    pub user_id: String,
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessToken {
    pub id: String,
    pub name: String,
    pub token: String,
    pub username: String,
    pub scopes: Vec<String>,
    pub created_at: String,
    pub expires_at: Option<String>,
    /// A resource token: it reads only these channels (`resources` of the API, permission `read`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<String>,
    /// Whether `GET /api/account` answers to this token with `X-Auth` (a service account's may not).
    #[serde(default = "yes")]
    pub account_readable: bool,
}

fn yes() -> bool {
    true
}

/// A token someone is given (by an administrator, for a team or a CI job), as the emulator makes one.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct GivenToken {
    /// The account it belongs to (default: the demo user).
    #[serde(default)]
    pub owner: Option<String>,
    /// Only this channel (a resource-scoped token); `None`: every channel the owner reads.
    #[serde(default)]
    pub channel: Option<String>,
    /// `GET /api/account` refuses it.
    #[serde(default)]
    pub hide_account: bool,
    /// Already expired (`expires_at` yesterday).
    #[serde(default)]
    pub expired: bool,
}

impl AccessToken {
    pub fn expired(&self) -> bool {
        self.expires_at
            .as_deref()
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .is_some_and(|d| d < Utc::now().date_naive())
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Channel {
    pub name: String,
    pub parent: Option<String>,
    pub privacy: String,
    pub owners: Vec<String>,
    #[serde(skip)]
    pub members: Vec<String>,
    pub mirror_count: u64,
    /// Serve `repodata.json.zst` too.
    #[serde(skip)]
    pub zst: bool,
}

impl Channel {
    pub fn full_name(&self) -> String {
        match &self.parent {
            Some(parent) => format!("{parent}/{}", self.name),
            None => self.name.clone(),
        }
    }
    pub(crate) fn can_read(&self, user: Option<&str>) -> bool {
        match self.privacy.as_str() {
            "public" => true,
            "authenticated" => user.is_some(),
            _ => user.is_some_and(|u| {
                self.owners.iter().any(|o| o == u) || self.members.iter().any(|m| m == u)
            }),
        }
    }
}

/// A fault to inject into matching requests (test-only control API).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fault {
    /// Requests whose path starts with this (after `/t/<token>` removal for repo paths).
    pub path_prefix: String,
    #[serde(default)]
    pub method: Option<String>,
    #[serde(flatten)]
    pub kind: FaultKind,
    /// How many requests to affect (None = all).
    #[serde(default)]
    pub times: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultKind {
    Status {
        status: u16,
    },
    Delay {
        ms: u64,
    },
    Malformed,
    Drop,
    Redirect {
        location: String,
    },
    Huge {
        bytes: usize,
    },
    /// Any status, content type and body (empty answers, HTML error pages…).
    Body {
        status: u16,
        content_type: String,
        body: String,
    },
}

/// One logged request (tokens never recorded: `auth` names the form they came in).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogEntry {
    pub method: String,
    pub path: String,
    pub auth: String,
    pub status: u16,
}

/// Everything the emulator knows.
#[derive(Debug)]
pub struct State {
    pub users: Vec<User>,
    /// JWT → username.
    pub sessions: BTreeMap<String, String>,
    pub tokens: Vec<AccessToken>,
    pub channels: Vec<Channel>,
    /// Extra repodata records per (channel full name, subdir), JSON objects keyed by file name.
    pub records: BTreeMap<(String, String), BTreeMap<String, serde_json::Value>>,
    /// The seeded records' package files (real `.conda` files), per (channel, subdir, file name).
    pub package_files: BTreeMap<(String, String, String), Vec<u8>>,
    /// Bumped when a channel's repodata changes (ETag).
    pub revisions: BTreeMap<String, u64>,
    pub faults: Vec<Fault>,
    pub log: Vec<LogEntry>,
    /// Every refresh token handed out (tests check none leaks).
    pub refresh_tokens: Vec<String>,
    pub packages_dir: Option<PathBuf>,
    pub delay: Duration,
    /// The Keycloak-like realm, when single sign-on is on.
    pub sso: Option<super::oidc::SsoRealm>,
    /// Python files of each channel's PyPI form (`/api/repo/<channel>/simple/`).
    pub python_files: BTreeMap<String, Vec<super::pypi::PyFile>>,
    /// How long a session JWT (and an SSO access token) is valid: its `exp` claim (Keycloak's default access-token
    /// lifetime is five minutes; the emulator's default is an hour).
    pub session_lifetime: Duration,
    /// The repository takes a token in its path only (`/t/<token>/`), as some servers do: a Basic
    /// `<token>:x-auth-token` there counts as anonymous. Off by default (Anaconda Server documents Basic).
    pub basic_refused_on_repo: bool,
}

fn user(name: &str, password: &str, id: &str, roles: &[&str]) -> User {
    User {
        username: name.into(),
        password: password.into(),
        user_id: id.into(),
        roles: roles.iter().map(|r| r.to_string()).collect(),
    }
}

fn channel(
    name: &str,
    parent: Option<&str>,
    privacy: &str,
    owners: &[&str],
    mirror: u64,
) -> Channel {
    Channel {
        name: name.into(),
        parent: parent.map(str::to_string),
        privacy: privacy.into(),
        owners: owners.iter().map(|o| o.to_string()).collect(),
        members: Vec::new(),
        mirror_count: mirror,
        zst: false,
    }
}

fn record(
    name: &str,
    version: &str,
    build: &str,
    subdir: &str,
    depends: &[&str],
) -> serde_json::Value {
    serde_json::json!({
        "name": name, "version": version, "build": build, "build_number": 0,
        "depends": depends, "license": "BSD-3-Clause", "subdir": subdir,
        "timestamp": 1_700_000_000_000u64,
    })
}

impl State {
    /// The seeded demo server: alice (member of `internal`), bob, an admin; mirrors `main` and `r`, a private
    /// and an authenticated channel with a subchannel, bob's private channel, and 1,200 `pkgs-NNNN` channels so
    /// that listing pages past 1000.
    pub fn seeded(bulk_channels: usize) -> Self {
        let users = vec![
            user(
                DEMO_USER,
                DEMO_PASSWORD,
                "3f1c2a9e-1111-2222-3333-444455556666",
                &["author"],
            ),
            user(
                "bob",
                "bob-password",
                "7a2b3c4d-5555-6666-7777-888899990000",
                &["author"],
            ),
            user(
                "admin",
                "admin-password",
                "0a0b0c0d-0000-1111-2222-333344445555",
                &["admin", "author"],
            ),
        ];
        let mut internal = channel("internal", None, "private", &["alice"], 0);
        internal.members.push("alice".into());
        let mut channels = vec![
            channel("main", None, "public", &["admin"], 1),
            channel("r", None, "public", &["admin"], 1),
            internal,
            channel("team", None, "authenticated", &["admin", "alice"], 0),
            channel("sub", Some("team"), "authenticated", &["alice"], 0),
            channel("bob-private", None, "private", &["bob"], 0),
            channel("alice", None, "private", &["alice"], 0),
        ];
        for index in 0..bulk_channels {
            channels.push(channel(
                &format!("pkgs-{index:04}"),
                None,
                "authenticated",
                &["admin"],
                0,
            ));
        }
        let mut records: BTreeMap<(String, String), BTreeMap<String, serde_json::Value>> =
            BTreeMap::new();
        let mut package_files = BTreeMap::new();
        let mut add = |ch: &str, subdir: &str, mut rec: serde_json::Value| {
            let stem = format!(
                "{}-{}-{}",
                rec["name"].as_str().unwrap(),
                rec["version"].as_str().unwrap(),
                rec["build"].as_str().unwrap()
            );
            let fname = format!("{stem}.conda");
            // the record describes its real file
            let bytes = super::conda_package::build(&stem, &rec);
            rec["md5"] = format!("{:x}", md5::compute(&bytes)).into();
            rec["sha256"] = super::conda_package::sha256(&bytes).into();
            rec["size"] = bytes.len().into();
            package_files.insert((ch.to_string(), subdir.to_string(), fname.clone()), bytes);
            records
                .entry((ch.to_string(), subdir.to_string()))
                .or_default()
                .insert(fname, rec);
        };
        // the platform packages are for the platform the emulator runs on (linux-64 on Linux), so that the demo and
        // the tests see the same index everywhere
        let platform = crate::engine::index::platform_subdir();
        for (n, v) in [
            ("python", "3.12.4"),
            ("numpy", "2.0.1"),
            ("requests", "2.32.3"),
            ("pandas", "2.2.2"),
        ] {
            add(
                "main",
                platform,
                record(n, v, "h1234567_0", platform, &["libgcc-ng >=12"]),
            );
            add(
                "main",
                "noarch",
                record(&format!("{n}-docs"), v, "pyhd8ed1ab_0", "noarch", &[]),
            );
        }
        add(
            "r",
            "noarch",
            record("r-base-docs", "4.3.3", "r43_0", "noarch", &[]),
        );
        add(
            "internal",
            "noarch",
            record("corp-utils", "1.4.0", "py_0", "noarch", &["python >=3.9"]),
        );
        add(
            "internal",
            platform,
            record(
                "corp-engine",
                "0.9.2",
                "h0a1b2c3_1",
                platform,
                &["corp-utils"],
            ),
        );
        add(
            "team/sub",
            "noarch",
            record("team-tools", "0.1.0", "py_0", "noarch", &[]),
        );
        State {
            users,
            sessions: BTreeMap::new(),
            tokens: Vec::new(),
            channels,
            records,
            package_files,
            revisions: BTreeMap::new(),
            faults: Vec::new(),
            log: Vec::new(),
            refresh_tokens: Vec::new(),
            packages_dir: None,
            delay: Duration::ZERO,
            sso: None,
            python_files: super::pypi::seeded(),
            session_lifetime: Duration::from_secs(3600),
            basic_refused_on_repo: false,
        }
    }

    /// The user of a session JWT the emulator issued and that has not expired (its `exp` claim).
    pub(crate) fn user_by_jwt(&self, jwt: &str) -> Option<&User> {
        let name = self.sessions.get(jwt)?;
        if super::api::jwt_expired(jwt) {
            return None;
        }
        self.users.iter().find(|u| &u.username == name)
    }

    pub fn token(&self, value: &str) -> Option<&AccessToken> {
        self.tokens
            .iter()
            .find(|t| t.token == value && !t.expired())
    }

    /// Whether a token (by value) may read `channel`: a resource token only its own channels.
    pub(crate) fn token_reaches(&self, value: &str, channel: &str) -> bool {
        self.token(value)
            .is_some_and(|t| t.channels.is_empty() || t.channels.iter().any(|c| c == channel))
    }

    pub fn channel(&self, full_name: &str) -> Option<&Channel> {
        self.channels.iter().find(|c| c.full_name() == full_name)
    }

    /// Make a token of the kind people are given; its value.
    pub fn give_token(&mut self, kind: &GivenToken) -> String {
        let owner = kind.owner.clone().unwrap_or_else(|| DEMO_USER.to_string());
        let expires = if kind.expired {
            (Utc::now().date_naive() - Days::days(1))
                .format("%Y-%m-%d")
                .to_string()
        } else {
            Self::default_expiry()
        };
        let value = super::api::random_hex(48);
        self.tokens.push(AccessToken {
            id: uuid::Uuid::new_v4().to_string(),
            name: match &kind.channel {
                Some(channel) => format!("service-account-channel-{channel}"),
                None => "given-token".into(),
            },
            token: value.clone(),
            username: owner,
            scopes: vec![
                "channel:view".into(),
                "channel:view-artifacts".into(),
                "artifact:download".into(),
            ],
            created_at: Utc::now().to_rfc3339(),
            expires_at: Some(expires),
            channels: kind.channel.iter().cloned().collect(),
            account_readable: !kind.hide_account,
        });
        value
    }

    /// Default expiry of new tokens: one year (the documented default).
    pub fn default_expiry() -> String {
        (Utc::now().date_naive() + Days::days(365))
            .format("%Y-%m-%d")
            .to_string()
    }

    /// Add or replace a repodata record (tests: "a channel changed").
    pub fn put_record(
        &mut self,
        channel: &str,
        subdir: &str,
        filename: &str,
        record: serde_json::Value,
    ) {
        self.records
            .entry((channel.to_string(), subdir.to_string()))
            .or_default()
            .insert(filename.to_string(), record);
        *self.revisions.entry(channel.to_string()).or_default() += 1;
    }
}
