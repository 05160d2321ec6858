//! STS on the AWS Query protocol, as `aws-sdk-sts` and boto3 speak it: `AssumeRole`,
//! `AssumeRoleWithWebIdentity` and `GetCallerIdentity`, plus who a Lambda caller is.
//!
//! Requests are form-encoded POSTs (`Action=AssumeRole&Version=2011-06-15&RoleArn=…`), answers
//! are STS's XML. Roles, their trust and their accounts are seeded through the admin API; the
//! temporary credentials STS issues belong to the role's account, and the HTTP face serves
//! every Lambda call from the account of the caller's access key (see [`Sts::resolve`]).
//!
//! Signatures are not checked (the emulator never sees a secret it could check them with, and
//! keeps none it hands out): a caller is who its SigV4 `Credential=` access key id says, and a
//! session key must come with the session token it was issued with.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{Value, json};

use crate::model::rng::Rng;
use crate::model::{Clock, fnv1a};

const XMLNS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
/// Real STS refuses sessions shorter than this; the emulator may be told to accept shorter
/// ones so that a test can make an SDK refresh its credentials quickly.
pub const MIN_DURATION_SECONDS: u32 = 900;
const MAX_DURATION_SECONDS: u32 = 43_200;
/// `DurationSeconds` omitted.
const DEFAULT_DURATION_SECONDS: u32 = 3600;
/// A role's `MaxSessionDuration` unless seeded otherwise (IAM's default).
const DEFAULT_MAX_SESSION_SECONDS: u32 = 3600;
/// A session that assumes another role (role chaining) gets at most an hour.
const CHAINED_MAX_SECONDS: u32 = 3600;
const MAX_SESSION_TAGS: usize = 50;

/// An IAM role that callers may assume.
#[derive(Clone, Debug)]
pub(crate) struct Role {
    pub arn: String,
    partition: String,
    pub account: String,
    /// The last path segment: what an assumed-role ARN names.
    name: String,
    /// `AROA…`, stable per ARN.
    id: String,
    /// Who may assume it: `*`, an account id or `arn:…:iam::<account>:root` (any caller of
    /// that account), an access key id, a caller ARN (user or assumed role), a role ARN (its
    /// sessions: role chaining), or an `arn:…:iam::<account>:oidc-provider/<issuer>` (web
    /// identity tokens from that issuer).
    trust: Vec<String>,
    external_id: Option<String>,
    max_session_seconds: u32,
}

impl Role {
    /// A role from its ARN (`arn:<partition>:iam::<account>:role/[<path>/]<name>`).
    pub(crate) fn new(
        arn: &str,
        trust: Vec<String>,
        external_id: Option<String>,
        max_session_seconds: Option<u32>,
    ) -> Result<Role, String> {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let well_formed = parts.len() == 6
            && parts[0] == "arn"
            && parts[1].starts_with("aws")
            && parts[2] == "iam"
            && parts[3].is_empty()
            && is_account_id(parts[4])
            && parts[5].starts_with("role/");
        let name = parts
            .get(5)
            .and_then(|r| r.rsplit('/').next())
            .unwrap_or_default();
        if !well_formed || name.is_empty() {
            return Err(format!(
                "not a role ARN (arn:aws:iam::<12 digits>:role/<name>): {arn}"
            ));
        }
        let max = max_session_seconds.unwrap_or(DEFAULT_MAX_SESSION_SECONDS);
        if !(DEFAULT_MAX_SESSION_SECONDS..=MAX_DURATION_SECONDS).contains(&max) {
            return Err(format!(
                "maxSessionDurationSeconds must be between 3600 and 43200, not {max}"
            ));
        }
        Ok(Role {
            arn: arn.to_owned(),
            partition: parts[1].to_owned(),
            account: parts[4].to_owned(),
            name: name.to_owned(),
            id: unique_id("AROA", arn),
            trust,
            external_id,
            max_session_seconds: max,
        })
    }

    fn trusts(&self, caller: &Identity) -> bool {
        self.trust.iter().any(|entry| {
            entry == "*"
                || *entry == caller.account
                || *entry == caller.access_key_id
                || *entry == caller.arn
                || caller.role_arn.as_deref() == Some(entry.as_str())
                || iam_resource(entry, "root").is_some_and(|(account, _)| account == caller.account)
        })
    }

    /// Whether a web identity token from `issuer` (its `iss` claim) may assume the role.
    fn trusts_issuer(&self, issuer: &str) -> bool {
        let provider = issuer
            .strip_prefix("https://")
            .unwrap_or(issuer)
            .trim_end_matches('/');
        self.trust.iter().any(|entry| {
            entry == "*"
                || iam_resource(entry, "oidc-provider/")
                    .is_some_and(|(_, rest)| rest.trim_end_matches('/') == provider)
        })
    }
}

/// `arn:<partition>:iam::<account>:<prefix><rest>` → `(account, rest)`.
fn iam_resource<'a>(arn: &'a str, prefix: &str) -> Option<(&'a str, &'a str)> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() != 6 || parts[0] != "arn" || parts[2] != "iam" || !parts[3].is_empty() {
        return None;
    }
    Some((parts[4], parts[5].strip_prefix(prefix)?))
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// An IAM-style unique id (`AROA…`, `AIDA…`): the prefix and 17 characters derived from `seed`.
fn unique_id(prefix: &str, seed: &str) -> String {
    let mut h = fnv1a(seed.as_bytes());
    let mut id = prefix.to_owned();
    for _ in 0..17 {
        id.push(KEY_ALPHABET[(h % 32) as usize] as char);
        h = h.rotate_right(5) ^ 0x9E37_79B9_7F4A_7C15;
    }
    id
}

/// Who sent a request: the principal behind an access key id.
#[derive(Clone, Debug)]
pub(crate) struct Identity {
    pub access_key_id: String,
    /// The account that serves the caller's Lambda calls.
    pub account: String,
    /// `arn:aws:iam::<account>:user/<name>` or `arn:aws:sts::<account>:assumed-role/<role>/<session>`.
    pub arn: String,
    user_id: String,
    /// Set for session credentials: the role they are a session of.
    role_arn: Option<String>,
}

/// Why a caller's credentials are refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AuthError {
    /// Session credentials past their expiration.
    Expired,
    /// A temporary key STS never issued, or a session key without its session token.
    Invalid,
}

/// A base (long-term) access key registered through the admin API.
#[derive(Clone, Debug)]
struct BaseKey {
    account: String,
    user: String,
}

/// Temporary credentials STS issued. The secret is handed out and forgotten.
#[derive(Clone, Debug)]
struct Session {
    token: String,
    identity: Identity,
    session_name: String,
    /// Session tags as given (listed by the admin API; no policy here evaluates them).
    tags: Vec<(String, String)>,
    /// Model time.
    expires_at: Duration,
}

/// An STS error as the Query protocol reports it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct StsError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl StsError {
    fn validation(message: impl Into<String>) -> Self {
        StsError {
            status: 400,
            code: "ValidationError",
            message: message.into(),
        }
    }

    fn access_denied(message: impl Into<String>) -> Self {
        StsError {
            status: 403,
            code: "AccessDenied",
            message: message.into(),
        }
    }

    fn from_auth(error: AuthError) -> Self {
        match error {
            AuthError::Expired => StsError {
                status: 403,
                code: "ExpiredToken",
                message: "The security token included in the request is expired".into(),
            },
            AuthError::Invalid => StsError {
                status: 403,
                code: "InvalidClientTokenId",
                message: "The security token included in the request is invalid.".into(),
            },
        }
    }

    fn render(&self, request_id: &str) -> String {
        let kind = if self.status >= 500 {
            "Receiver"
        } else {
            "Sender"
        };
        format!(
            "<ErrorResponse xmlns=\"{XMLNS}\"><Error><Type>{kind}</Type><Code>{}</Code>\
             <Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
            self.code,
            xml_escape(&self.message),
            xml_escape(request_id)
        )
    }
}

/// An STS answer for the HTTP face: status and XML body, plus what to log and count it as.
pub(crate) struct Reply {
    pub status: u16,
    pub body: String,
    /// The `Action` (empty if there was none).
    pub action: String,
    /// The caller's account, or for web identity the role's; `None` if unknown.
    pub account: Option<String>,
}

/// The signed caller of an STS request: its access key id and any `X-Amz-Security-Token`.
pub(crate) struct Signer<'a> {
    pub access_key_id: &'a str,
    pub session_token: Option<&'a str>,
}

/// The emulated STS and the access keys it knows.
pub(crate) struct Sts {
    clock: Clock,
    default_account: String,
    partition: String,
    state: Mutex<State>,
}

struct State {
    roles: BTreeMap<String, Role>,
    keys: BTreeMap<String, BaseKey>,
    sessions: HashMap<String, Session>,
    /// STS calls per (caller account, action).
    counts: BTreeMap<(Option<String>, String), u64>,
    min_duration_seconds: u32,
    rng: Rng,
}

impl Sts {
    /// An STS on `clock`; unknown base keys belong to `default_account`.
    pub(crate) fn new(
        clock: Clock,
        default_account: &str,
        partition: &str,
        min_duration_seconds: u32,
    ) -> Sts {
        Sts {
            clock,
            default_account: default_account.to_owned(),
            partition: partition.to_owned(),
            state: Mutex::new(State {
                roles: BTreeMap::new(),
                keys: BTreeMap::new(),
                sessions: HashMap::new(),
                counts: BTreeMap::new(),
                min_duration_seconds: min_duration_seconds.max(1),
                rng: Rng::new(None),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    // --- admin -------------------------------------------------------------------------------

    pub(crate) fn put_role(&self, role: Role) {
        self.state().roles.insert(role.arn.clone(), role);
    }

    /// The seeded roles. The external ID is a shared secret, so only whether one is required.
    pub(crate) fn roles(&self) -> Vec<Value> {
        self.state()
            .roles
            .values()
            .map(|r| {
                json!({
                    "roleArn": r.arn,
                    "account": r.account,
                    "roleId": r.id,
                    "trust": r.trust,
                    "externalIdRequired": r.external_id.is_some(),
                    "maxSessionDurationSeconds": r.max_session_seconds,
                })
            })
            .collect()
    }

    /// Registers a base access key as a user of `account` (default user name: the key id).
    pub(crate) fn put_key(&self, access_key_id: &str, account: &str, user: Option<&str>) {
        self.state().keys.insert(
            access_key_id.to_owned(),
            BaseKey {
                account: account.to_owned(),
                user: user.unwrap_or(access_key_id).to_owned(),
            },
        );
    }

    /// The sessions issued so far (never their secrets or tokens).
    pub(crate) fn sessions(&self) -> Vec<Value> {
        let now = self.clock.elapsed();
        let state = self.state();
        let mut sessions: Vec<&Session> = state.sessions.values().collect();
        sessions.sort_by_key(|s| (s.expires_at, s.identity.access_key_id.clone()));
        sessions
            .into_iter()
            .map(|s| {
                json!({
                    "accessKeyId": s.identity.access_key_id,
                    "account": s.identity.account,
                    "roleArn": s.identity.role_arn,
                    "sessionName": s.session_name,
                    "tags": s.tags.iter().cloned().collect::<BTreeMap<_, _>>(),
                    "arn": s.identity.arn,
                    "expiration": self.iso8601(s.expires_at),
                    "expired": s.expires_at <= now,
                })
            })
            .collect()
    }

    /// Makes sessions expire now: the one with `access_key_id`, or all. Returns how many.
    pub(crate) fn expire_sessions(&self, access_key_id: Option<&str>) -> usize {
        let now = self.clock.elapsed();
        let mut state = self.state();
        let mut n = 0;
        for s in state.sessions.values_mut() {
            if access_key_id.is_none_or(|k| k == s.identity.access_key_id) {
                s.expires_at = s.expires_at.min(now);
                n += 1;
            }
        }
        n
    }

    pub(crate) fn set_min_duration_seconds(&self, seconds: u32) {
        self.state().min_duration_seconds = seconds.max(1);
    }

    pub(crate) fn counts(&self) -> BTreeMap<(Option<String>, String), u64> {
        self.state().counts.clone()
    }

    /// Forgets the call counts. Roles, keys and sessions stay: a client's cached credentials
    /// outlive a test's reset, as they would outlive nothing in AWS.
    pub(crate) fn reset_counts(&self) {
        self.state().counts.clear();
    }

    // --- callers -----------------------------------------------------------------------------

    /// Who holds `access_key_id`. Sessions STS issued belong to their role's account (and need
    /// their session token); registered base keys to their account; any other base key to
    /// the default account. A temporary key (`ASIA…`) STS never issued is invalid.
    pub(crate) fn resolve(
        &self,
        access_key_id: &str,
        session_token: Option<&str>,
    ) -> Result<Identity, AuthError> {
        let state = self.state();
        if let Some(session) = state.sessions.get(access_key_id) {
            if session_token != Some(session.token.as_str()) {
                return Err(AuthError::Invalid);
            }
            if session.expires_at <= self.clock.elapsed() {
                return Err(AuthError::Expired);
            }
            return Ok(session.identity.clone());
        }
        if access_key_id.starts_with("ASIA") {
            return Err(AuthError::Invalid);
        }
        let (account, user) = match state.keys.get(access_key_id) {
            Some(key) => (key.account.clone(), key.user.clone()),
            None => (self.default_account.clone(), access_key_id.to_owned()),
        };
        Ok(Identity {
            access_key_id: access_key_id.to_owned(),
            arn: format!("arn:{}:iam::{account}:user/{user}", self.partition),
            user_id: unique_id("AIDA", &format!("{account}/{user}")),
            account,
            role_arn: None,
        })
    }

    // --- the Query API -----------------------------------------------------------------------

    /// Serves one STS request: `params` are the form (and query) parameters.
    pub(crate) fn handle(
        &self,
        params: &[(String, String)],
        signer: Option<Signer<'_>>,
        request_id: &str,
    ) -> Reply {
        let action = param(params, "Action").unwrap_or_default().to_owned();
        let caller = signer.map(|s| self.resolve(s.access_key_id, s.session_token));
        let mut account = caller
            .as_ref()
            .and_then(|c| c.as_ref().ok())
            .map(|c| c.account.clone());
        let result = match action.as_str() {
            "AssumeRole" => signed(caller).and_then(|c| self.assume_role(params, &c)),
            "AssumeRoleWithWebIdentity" => self.assume_role_with_web_identity(params).map(|r| {
                account = Some(r.1);
                r.0
            }),
            "GetCallerIdentity" => signed(caller).map(|c| get_caller_identity(&c)),
            _ => Err(StsError {
                status: 400,
                code: "InvalidAction",
                message: format!("Could not find operation {action} for version 2011-06-15"),
            }),
        };
        *self
            .state()
            .counts
            .entry((account.clone(), action.clone()))
            .or_default() += 1;
        let (status, body) = match result {
            Ok(result) => (
                200,
                format!(
                    "<{action}Response xmlns=\"{XMLNS}\"><{action}Result>{result}</{action}Result>\
                     <ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata></{action}Response>",
                    xml_escape(request_id)
                ),
            ),
            Err(e) => (e.status, e.render(request_id)),
        };
        Reply {
            status,
            body,
            action,
            account,
        }
    }

    fn assume_role(
        &self,
        params: &[(String, String)],
        caller: &Identity,
    ) -> Result<String, StsError> {
        let role_arn = required(params, "RoleArn", "roleArn", 20, 2048)?;
        let session_name = session_name(params)?;
        let external_id = param(params, "ExternalId");
        if let Some(id) = external_id {
            check_length(id, "externalId", 2, 1224)?;
        }
        let tags = session_tags(params)?;
        let requested = self.duration(params)?;
        let denied = || {
            StsError::access_denied(format!(
                "User: {} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
                caller.arn
            ))
        };
        let role = self
            .state()
            .roles
            .get(role_arn)
            .cloned()
            .ok_or_else(denied)?;
        if !role.trusts(caller) {
            return Err(denied());
        }
        if role
            .external_id
            .as_deref()
            .is_some_and(|want| external_id != Some(want))
        {
            return Err(denied());
        }
        let seconds = requested.unwrap_or(DEFAULT_DURATION_SECONDS);
        if caller.role_arn.is_some() && seconds > CHAINED_MAX_SECONDS {
            return Err(StsError::validation(
                "The requested DurationSeconds exceeds the 1 hour session limit for roles \
                 assumed by role chaining.",
            ));
        }
        if seconds > role.max_session_seconds {
            return Err(StsError::validation(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
            ));
        }
        Ok(self.issue(&role, session_name, tags, seconds))
    }

    /// Returns the result XML and the role's account.
    fn assume_role_with_web_identity(
        &self,
        params: &[(String, String)],
    ) -> Result<(String, String), StsError> {
        let role_arn = required(params, "RoleArn", "roleArn", 20, 2048)?;
        let session_name = session_name(params)?;
        let token = required(params, "WebIdentityToken", "webIdentityToken", 4, 20_000)?;
        let requested = self.duration(params)?;
        let claims = jwt_claims(token).ok_or_else(|| StsError {
            status: 400,
            code: "InvalidIdentityToken",
            message: "The ID Token provided is not a valid JWT. (You may see this error if you \
                      sent an Access Token)"
                .into(),
        })?;
        let claim = |name: &str| match claims.get(name) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(a)) => a
                .first()
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            _ => String::new(),
        };
        let (issuer, subject, audience) = (claim("iss"), claim("sub"), claim("aud"));
        let now_s = self.clock.epoch_millis_at(self.clock.elapsed()) / 1000;
        if let Some(exp) = claims.get("exp").and_then(Value::as_u64)
            && exp <= now_s
        {
            return Err(StsError {
                status: 400,
                code: "ExpiredTokenException",
                message: "Token expired: current date/time must be before the expiration \
                          date/time."
                    .into(),
            });
        }
        let denied =
            || StsError::access_denied("Not authorized to perform sts:AssumeRoleWithWebIdentity");
        let role = self
            .state()
            .roles
            .get(role_arn)
            .cloned()
            .ok_or_else(denied)?;
        if !role.trusts_issuer(&issuer) {
            return Err(denied());
        }
        let seconds = requested.unwrap_or(DEFAULT_DURATION_SECONDS);
        if seconds > role.max_session_seconds {
            return Err(StsError::validation(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
            ));
        }
        let issued = self.issue(&role, session_name, Vec::new(), seconds);
        let provider = issuer.strip_prefix("https://").unwrap_or(&issuer);
        Ok((
            format!(
                "{issued}<SubjectFromWebIdentityToken>{}</SubjectFromWebIdentityToken>\
                 <Audience>{}</Audience><Provider>{}</Provider>",
                xml_escape(&subject),
                xml_escape(&audience),
                xml_escape(provider)
            ),
            role.account,
        ))
    }

    /// `DurationSeconds`, if given, within [minimum, 43200].
    fn duration(&self, params: &[(String, String)]) -> Result<Option<u32>, StsError> {
        let Some(raw) = param(params, "DurationSeconds") else {
            return Ok(None);
        };
        let min = self.state().min_duration_seconds;
        let bad = |constraint: String| {
            StsError::validation(format!(
                "1 validation error detected: Value '{raw}' at 'durationSeconds' failed to \
                 satisfy constraint: {constraint}"
            ))
        };
        let seconds: i64 = raw
            .parse()
            .map_err(|_| bad("Member must be a number".into()))?;
        if seconds < i64::from(min) {
            return Err(bad(format!(
                "Member must have value greater than or equal to {min}"
            )));
        }
        if seconds > i64::from(MAX_DURATION_SECONDS) {
            return Err(bad(format!(
                "Member must have value less than or equal to {MAX_DURATION_SECONDS}"
            )));
        }
        Ok(Some(seconds as u32))
    }

    /// Mints a session of `role` and renders the `Credentials` and `AssumedRoleUser` elements.
    fn issue(
        &self,
        role: &Role,
        session_name: &str,
        tags: Vec<(String, String)>,
        seconds: u32,
    ) -> String {
        let expires_at = self.clock.elapsed() + Duration::from_secs(u64::from(seconds));
        let mut state = self.state();
        let access_key_id = loop {
            let key = format!("ASIA{}", random_string(&mut state.rng, KEY_ALPHABET, 16));
            if !state.sessions.contains_key(&key) {
                break key;
            }
        };
        let secret = random_string(&mut state.rng, SECRET_ALPHABET, 40);
        let token = random_string(&mut state.rng, SECRET_ALPHABET, 356);
        let arn = format!(
            "arn:{}:sts::{}:assumed-role/{}/{session_name}",
            role.partition, role.account, role.name
        );
        let user_id = format!("{}:{session_name}", role.id);
        let identity = Identity {
            access_key_id: access_key_id.clone(),
            account: role.account.clone(),
            arn: arn.clone(),
            user_id: user_id.clone(),
            role_arn: Some(role.arn.clone()),
        };
        state.sessions.insert(
            access_key_id.clone(),
            Session {
                token: token.clone(),
                identity,
                session_name: session_name.to_owned(),
                tags,
                expires_at,
            },
        );
        drop(state);
        format!(
            "<Credentials><AccessKeyId>{access_key_id}</AccessKeyId>\
             <SecretAccessKey>{secret}</SecretAccessKey><SessionToken>{token}</SessionToken>\
             <Expiration>{}</Expiration></Credentials><AssumedRoleUser>\
             <AssumedRoleId>{}</AssumedRoleId><Arn>{}</Arn></AssumedRoleUser>",
            self.iso8601(expires_at),
            xml_escape(&user_id),
            xml_escape(&arn)
        )
    }

    /// Model time → `2006-01-02T15:04:05Z`.
    fn iso8601(&self, at: Duration) -> String {
        iso8601(self.clock.epoch_millis_at(at) / 1000)
    }
}

/// AssumeRole and GetCallerIdentity must be signed by a valid caller.
fn signed(caller: Option<Result<Identity, AuthError>>) -> Result<Identity, StsError> {
    match caller {
        None => Err(StsError {
            status: 403,
            code: "MissingAuthenticationToken",
            message: "Request is missing Authentication Token".into(),
        }),
        Some(result) => result.map_err(StsError::from_auth),
    }
}

fn get_caller_identity(caller: &Identity) -> String {
    format!(
        "<Arn>{}</Arn><UserId>{}</UserId><Account>{}</Account>",
        xml_escape(&caller.arn),
        xml_escape(&caller.user_id),
        caller.account
    )
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn check_length(value: &str, field: &str, min: usize, max: usize) -> Result<(), StsError> {
    let n = value.chars().count();
    let constraint = if n < min {
        format!("greater than or equal to {min}")
    } else if n > max {
        format!("less than or equal to {max}")
    } else {
        return Ok(());
    };
    Err(StsError::validation(format!(
        "1 validation error detected: Value '{value}' at '{field}' failed to satisfy \
         constraint: Member must have length {constraint}"
    )))
}

fn required<'a>(
    params: &'a [(String, String)],
    name: &str,
    field: &str,
    min: usize,
    max: usize,
) -> Result<&'a str, StsError> {
    let value = param(params, name).ok_or_else(|| {
        StsError::validation(format!(
            "1 validation error detected: Value null at '{field}' failed to satisfy \
             constraint: Member must not be null"
        ))
    })?;
    check_length(value, field, min, max)?;
    Ok(value)
}

/// `RoleSessionName`: 2–64 characters of `[\w+=,.@-]`.
fn session_name(params: &[(String, String)]) -> Result<&str, StsError> {
    let name = required(params, "RoleSessionName", "roleSessionName", 2, 64)?;
    if name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
    {
        Ok(name)
    } else {
        Err(StsError::validation(format!(
            "1 validation error detected: Value '{name}' at 'roleSessionName' failed to \
             satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"
        )))
    }
}

/// `Tags.member.N.Key` / `Tags.member.N.Value`, N from 1.
fn session_tags(params: &[(String, String)]) -> Result<Vec<(String, String)>, StsError> {
    let mut tags = Vec::new();
    for n in 1.. {
        let Some(key) = param(params, &format!("Tags.member.{n}.Key")) else {
            break;
        };
        let value = param(params, &format!("Tags.member.{n}.Value")).unwrap_or_default();
        check_length(key, &format!("tags.{n}.member.key"), 1, 128)?;
        check_length(value, &format!("tags.{n}.member.value"), 0, 256)?;
        tags.push((key.to_owned(), value.to_owned()));
    }
    if tags.len() > MAX_SESSION_TAGS {
        return Err(StsError::validation(format!(
            "1 validation error detected: Value at 'tags' failed to satisfy constraint: \
             Member must have length less than or equal to {MAX_SESSION_TAGS}"
        )));
    }
    Ok(tags)
}

/// Base32-ish, like AWS key ids.
const KEY_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn random_string(rng: &mut Rng, alphabet: &[u8], len: usize) -> String {
    (0..len)
        .map(|_| alphabet[(rng.next_u64() % alphabet.len() as u64) as usize] as char)
        .collect()
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// Seconds since the Unix epoch → `YYYY-MM-DDTHH:MM:SSZ` (proleptic Gregorian, UTC).
fn iso8601(epoch_seconds: u64) -> String {
    let days = (epoch_seconds / 86_400) as i64;
    let secs = epoch_seconds % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// The claims of a JWT (`header.payload.signature`), unverified: the emulator trusts the
/// issuer the token names, as a test needs no key material.
fn jwt_claims(token: &str) -> Option<serde_json::Map<String, Value>> {
    let mut parts = token.split('.');
    let (_header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    match serde_json::from_slice(&base64url_decode(payload)?).ok()? {
        Value::Object(claims) => Some(claims),
        _ => None,
    }
}

fn base64url_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut buf, mut bits) = (0u32, 0u32);
    for c in s.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        };
        buf = (buf << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
            buf &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn sts() -> Sts {
        Sts::new(Clock::real(), "123456789012", "aws", MIN_DURATION_SECONDS)
    }

    #[test]
    fn dates_render_as_iso8601_utc() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(iso8601(1_767_225_599), "2025-12-31T23:59:59Z");
    }

    #[test]
    fn base64url_and_jwt_claims() {
        assert_eq!(base64url_decode("aGk").unwrap(), b"hi");
        assert_eq!(base64url_decode("aGk=").unwrap(), b"hi");
        assert!(base64url_decode("a*b").is_none());
        // {"iss":"https://oidc.example/x","sub":"system:serviceaccount:ns:sa"}
        let payload = "eyJpc3MiOiJodHRwczovL29pZGMuZXhhbXBsZS94Iiwic3ViIjoic3lzdGVtOnNlcnZpY2VhY2NvdW50Om5zOnNhIn0";
        let claims = jwt_claims(&format!("e30.{payload}.sig")).unwrap();
        assert_eq!(claims["iss"], "https://oidc.example/x");
        assert!(jwt_claims("not-a-jwt").is_none());
    }

    #[test]
    fn role_arns_are_checked() {
        let role = Role::new(
            "arn:aws:iam::111111111111:role/ops/deployer",
            vec![],
            None,
            None,
        )
        .unwrap();
        assert_eq!(role.account, "111111111111");
        assert_eq!(role.name, "deployer");
        assert!(role.id.starts_with("AROA") && role.id.len() == 21);
        assert!(Role::new("arn:aws:iam::1:role/x", vec![], None, None).is_err());
        assert!(Role::new("arn:aws:iam::111111111111:user/x", vec![], None, None).is_err());
        assert!(Role::new("arn:aws:iam::111111111111:role/x", vec![], None, Some(100)).is_err());
    }

    #[test]
    fn trust_entries_match_callers() {
        let sts = sts();
        sts.put_key("AKIAALICE", "222222222222", Some("alice"));
        let alice = sts.resolve("AKIAALICE", None).unwrap();
        assert_eq!(alice.arn, "arn:aws:iam::222222222222:user/alice");
        let other = sts.resolve("AKIAOTHER", None).unwrap();
        assert_eq!(other.account, "123456789012");
        let role = |trust: &str| {
            Role::new(
                "arn:aws:iam::111111111111:role/r",
                vec![trust.into()],
                None,
                None,
            )
            .unwrap()
        };
        for entry in [
            "*",
            "222222222222",
            "arn:aws:iam::222222222222:root",
            "AKIAALICE",
            "arn:aws:iam::222222222222:user/alice",
        ] {
            assert!(role(entry).trusts(&alice), "{entry}");
            assert!(
                entry == "*" || !role(entry).trusts(&other),
                "{entry} trusts another caller"
            );
        }
        assert!(!role("arn:aws:iam::333333333333:root").trusts(&alice));
        assert!(
            role("arn:aws:iam::1:oidc-provider/oidc.example/x")
                .trusts_issuer("https://oidc.example/x")
        );
        assert!(
            !role("arn:aws:iam::1:oidc-provider/oidc.example/y")
                .trusts_issuer("https://oidc.example/x")
        );
        assert!(!role("AKIAALICE").trusts_issuer("https://oidc.example/x"));
    }

    #[test]
    fn unknown_temporary_keys_and_missing_tokens_are_invalid() {
        let sts = sts();
        assert_eq!(
            sts.resolve("ASIAUNKNOWN", Some("t")).unwrap_err(),
            AuthError::Invalid
        );
        sts.put_role(
            Role::new(
                "arn:aws:iam::111111111111:role/r",
                vec!["*".into()],
                None,
                None,
            )
            .unwrap(),
        );
        let reply = sts.handle(
            &params(&[
                ("Action", "AssumeRole"),
                ("RoleArn", "arn:aws:iam::111111111111:role/r"),
                ("RoleSessionName", "s"),
            ]),
            Some(Signer {
                access_key_id: "AKIAX",
                session_token: None,
            }),
            "rid",
        );
        // One-character session names are too short.
        assert_eq!(reply.status, 400, "{}", reply.body);
        assert!(reply.body.contains("<Code>ValidationError</Code>"));
        assert!(reply.body.contains("roleSessionName"));
        let reply = sts.handle(
            &params(&[
                ("Action", "AssumeRole"),
                ("RoleArn", "arn:aws:iam::111111111111:role/r"),
                ("RoleSessionName", "session"),
            ]),
            Some(Signer {
                access_key_id: "AKIAX",
                session_token: None,
            }),
            "rid",
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
        let key = between(&reply.body, "<AccessKeyId>", "</AccessKeyId>");
        let token = between(&reply.body, "<SessionToken>", "</SessionToken>");
        assert!(key.starts_with("ASIA") && key.len() == 20);
        assert_eq!(
            sts.resolve(key, Some(token)).unwrap().account,
            "111111111111"
        );
        assert_eq!(sts.resolve(key, None).unwrap_err(), AuthError::Invalid);
        assert_eq!(sts.resolve(key, Some("x")).unwrap_err(), AuthError::Invalid);
        assert_eq!(sts.expire_sessions(Some(key)), 1);
        assert_eq!(
            sts.resolve(key, Some(token)).unwrap_err(),
            AuthError::Expired
        );
    }

    fn between<'a>(s: &'a str, open: &str, close: &str) -> &'a str {
        let start = s.find(open).unwrap() + open.len();
        let end = s[start..].find(close).unwrap() + start;
        &s[start..end]
    }

    #[test]
    fn unknown_actions_and_unsigned_assume_role_are_refused() {
        let sts = sts();
        let reply = sts.handle(
            &params(&[("Action", "DecodeAuthorizationMessage")]),
            None,
            "r",
        );
        assert_eq!(reply.status, 400);
        assert!(reply.body.contains("<Code>InvalidAction</Code>"));
        let reply = sts.handle(&params(&[("Action", "AssumeRole")]), None, "r");
        assert_eq!(reply.status, 403);
        assert!(
            reply
                .body
                .contains("<Code>MissingAuthenticationToken</Code>")
        );
        assert!(reply.body.contains("<Type>Sender</Type>"));
    }
}
