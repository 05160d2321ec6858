//! Accounts on the wire: the real `aws-sdk-sts` (through aws-config's `AssumeRoleProvider`, as a
//! client assumes a role) and `aws-sdk-lambda` against the HTTP face. Mappings land in the
//! account of the role; untrusted roles, wrong external IDs and expired sessions are refused
//! the way STS and Lambda refuse them.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_sdk_lambda::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_lambda::error::ProvideErrorMetadata;
use common::*;
use esm_emulator::model::ManualClock;
use esm_emulator::server::serve;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// The account of the emulator's own (base) access keys.
const HOME: &str = "123456789012";
const WORKLOAD: &str = "111111111111";
const DEPLOYER: &str = "arn:aws:iam::111111111111:role/esm-deployer";
const BASE_KEY: &str = "AKIDEMULATOR";
const QUEUE: &str = "arn:aws:sqs:us-east-1:111111111111:orders";

/// A running emulator whose default account is [`HOME`]; shuts down when dropped.
struct Emulator {
    clock: ManualClock,
    addr: std::net::SocketAddr,
    /// Base credentials ([`BASE_KEY`], account [`HOME`]), pointed at the emulator.
    base: SdkConfig,
    _shutdown: oneshot::Sender<()>,
}

impl Emulator {
    async fn start() -> Emulator {
        let (model, clock) = model();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(serve(model, listener, async {
            let _ = rx.await;
        }));
        let base = sdk_config(
            addr,
            Credentials::new(BASE_KEY, "secret", None, None, "test"),
        )
        .await;
        let emu = Emulator {
            clock,
            addr,
            base,
            _shutdown: tx,
        };
        // The deployer role trusts every caller of HOME and asks for an external ID.
        emu.admin(
            "POST",
            "/_emulator/roles",
            json!({
                "roleArn": DEPLOYER,
                "trust": [format!("arn:aws:iam::{HOME}:root")],
                "externalId": "ext-7",
            }),
        )
        .await;
        emu.admin(
            "POST",
            "/_emulator/functions",
            json!({"name": "payments", "account": WORKLOAD}),
        )
        .await;
        emu
    }

    /// An admin call that must succeed.
    async fn admin(&self, method: &str, path: &str, body: Value) -> RawResponse {
        let response = raw(self.addr, method, path, Some(body)).await;
        assert!(
            response.status < 300,
            "{method} {path}: {} {}",
            response.status,
            response.body
        );
        response
    }

    async fn get(&self, path: &str) -> Value {
        raw(self.addr, "GET", path, None).await.json()
    }

    fn sts(&self) -> aws_sdk_sts::Client {
        aws_sdk_sts::Client::new(&self.base)
    }

    fn lambda(&self) -> aws_sdk_lambda::Client {
        aws_sdk_lambda::Client::new(&self.base)
    }

    /// A Lambda client whose credentials come from the SDK's own AssumeRoleProvider.
    async fn lambda_as(&self, role: &str, external_id: Option<&str>) -> aws_sdk_lambda::Client {
        let mut provider = AssumeRoleProvider::builder(role)
            .session_name("esm-controller")
            .configure(&self.base);
        if let Some(id) = external_id {
            provider = provider.external_id(id);
        }
        let provider = provider.build().await;
        let config = aws_sdk_lambda::config::Builder::from(&self.base)
            .credentials_provider(provider)
            .build();
        aws_sdk_lambda::Client::from_conf(config)
    }
}

async fn sdk_config(addr: std::net::SocketAddr, credentials: Credentials) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(format!("http://{addr}"))
        .credentials_provider(credentials)
        .retry_config(RetryConfig::disabled())
        .load()
        .await
}

async fn list_uuids(client: &aws_sdk_lambda::Client) -> Vec<String> {
    client
        .list_event_source_mappings()
        .send()
        .await
        .unwrap()
        .event_source_mappings()
        .iter()
        .filter_map(|m| m.uuid().map(str::to_owned))
        .collect()
}

fn now_epoch_seconds() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn assumed_role_mappings_land_in_the_roles_account_only() {
    let emu = Emulator::start().await;
    let workload = emu.lambda_as(DEPLOYER, Some("ext-7")).await;

    let created = workload
        .create_event_source_mapping()
        .function_name("payments")
        .event_source_arn(QUEUE)
        .send()
        .await
        .unwrap();
    let uuid = created.uuid().unwrap().to_owned();
    assert_eq!(
        created.function_arn(),
        Some("arn:aws:lambda:us-east-1:111111111111:function:payments")
    );
    assert_eq!(
        created.event_source_mapping_arn(),
        Some(format!("arn:aws:lambda:us-east-1:111111111111:event-source-mapping:{uuid}").as_str())
    );
    assert_eq!(list_uuids(&workload).await, [uuid.as_str()]);
    // The base keys' account has its own, empty Lambda; so has an account nobody used yet.
    assert!(list_uuids(&emu.lambda()).await.is_empty());
    emu.admin(
        "POST",
        "/_emulator/access-keys",
        json!({"accessKeyId": "AKIAOTHERACCOUNT", "account": "222222222222", "userName": "ops"}),
    )
    .await;
    let other = sdk_config(
        emu.addr,
        Credentials::new("AKIAOTHERACCOUNT", "secret", None, None, "test"),
    )
    .await;
    let other = aws_sdk_lambda::Client::new(&other);
    assert!(list_uuids(&other).await.is_empty());
    // Functions are per account too: HOME (seeded with `worker`, `other`) has no `payments`.
    let err = emu
        .lambda()
        .create_event_source_mapping()
        .function_name("payments")
        .event_source_arn(QUEUE)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ResourceNotFoundException"));

    // The admin API reports the account of every call.
    let calls = emu
        .get(&format!("/_emulator/calls?account={WORKLOAD}"))
        .await;
    assert_eq!(calls["CreateEventSourceMapping"], 1);
    assert_eq!(calls["ListEventSourceMappings"], 1);
    assert_eq!(calls.get("AssumeRole"), None);
    let home = emu.get(&format!("/_emulator/calls?account={HOME}")).await;
    assert_eq!(home["ListEventSourceMappings"], 1);
    // AssumeRole is counted against the caller that asked (the base keys' account).
    assert_eq!(home["AssumeRole"], 1);
    let totals = emu.get("/_emulator/calls").await;
    assert_eq!(totals["ListEventSourceMappings"], 3);
    assert_eq!(totals["CreateEventSourceMapping"], 2);
    assert_eq!(totals["AssumeRole"], 1);
    let by_account = emu.get("/_emulator/calls?by=account").await;
    assert_eq!(by_account["222222222222"]["ListEventSourceMappings"], 1);

    let log = emu.get("/_emulator/requests").await;
    let first = &log[0];
    assert_eq!(first["account"], WORKLOAD);
    assert!(first["caller"].as_str().unwrap().starts_with("ASIA"));
    let sessions = emu.get("/_emulator/sessions").await;
    assert_eq!(sessions[0]["accessKeyId"], first["caller"]);
    assert_eq!(sessions[0]["account"], WORKLOAD);
    assert_eq!(
        sessions[0]["arn"],
        "arn:aws:sts::111111111111:assumed-role/esm-deployer/esm-controller"
    );
    let admin_view = emu
        .get(&format!("/_emulator/mappings?account={WORKLOAD}"))
        .await;
    assert_eq!(admin_view.as_array().unwrap().len(), 1);
    assert_eq!(
        emu.get(&format!("/_emulator/mappings?account={HOME}"))
            .await,
        json!([])
    );
    // The role listing never shows the external ID itself.
    let roles = emu.get("/_emulator/roles").await;
    assert_eq!(roles[0]["externalIdRequired"], true);
    assert!(!roles.to_string().contains("ext-7"));
}

#[tokio::test]
async fn get_caller_identity_names_the_session_and_the_base_user() {
    let emu = Emulator::start().await;
    let me = emu.sts().get_caller_identity().send().await.unwrap();
    assert_eq!(me.account(), Some(HOME));
    assert_eq!(
        me.arn(),
        Some("arn:aws:iam::123456789012:user/AKIDEMULATOR")
    );

    let assumed = emu
        .sts()
        .assume_role()
        .role_arn(DEPLOYER)
        .role_session_name("who")
        .external_id("ext-7")
        .send()
        .await
        .unwrap();
    let user = assumed.assumed_role_user().unwrap();
    assert_eq!(
        user.arn(),
        "arn:aws:sts::111111111111:assumed-role/esm-deployer/who"
    );
    assert!(user.assumed_role_id().starts_with("AROA"));
    assert!(user.assumed_role_id().ends_with(":who"));
    let c = assumed.credentials().unwrap();
    assert!(c.access_key_id().starts_with("ASIA"));
    let session = sdk_config(
        emu.addr,
        Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_owned()),
            None,
            "test",
        ),
    )
    .await;
    let me = aws_sdk_sts::Client::new(&session)
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(me.account(), Some(WORKLOAD));
    assert_eq!(me.arn(), Some(user.arn()));
    assert_eq!(me.user_id(), Some(user.assumed_role_id()));
}

#[tokio::test]
async fn untrusted_roles_and_wrong_external_ids_are_access_denied() {
    let emu = Emulator::start().await;
    let locked = "arn:aws:iam::111111111111:role/locked";
    emu.admin(
        "POST",
        "/_emulator/roles",
        json!({"roleArn": locked, "trust": ["arn:aws:iam::999999999999:root"]}),
    )
    .await;
    let denied = |role: &str| {
        format!(
            "User: arn:aws:iam::123456789012:user/AKIDEMULATOR is not authorized to perform: \
             sts:AssumeRole on resource: {role}"
        )
    };
    let cases = [
        (locked, None),
        (DEPLOYER, None),
        (DEPLOYER, Some("wrong")),
        ("arn:aws:iam::111111111111:role/never-seeded", None),
    ];
    for (role, external_id) in cases {
        let err = emu
            .sts()
            .assume_role()
            .role_arn(role)
            .role_session_name("nope")
            .set_external_id(external_id.map(str::to_owned))
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            err.raw_response().map(|r| r.status().as_u16()),
            Some(403),
            "{role}"
        );
        let err = err.into_service_error();
        assert_eq!(err.code(), Some("AccessDenied"), "{role}");
        assert_eq!(err.message(), Some(denied(role).as_str()));
    }

    // Through the provider, the Lambda call fails before it is sent: no Lambda request.
    let client = emu.lambda_as(locked, None).await;
    let err = client
        .list_event_source_mappings()
        .send()
        .await
        .unwrap_err();
    assert!(
        format!("{:?}", err).contains("AccessDenied"),
        "the credentials error names STS's refusal: {err:?}"
    );
    assert_eq!(emu.get("/_emulator/requests").await, json!([]));
    assert_eq!(emu.get("/_emulator/calls").await["AssumeRole"], 5);
}

#[tokio::test]
async fn expired_sessions_are_refused_by_lambda_and_sts() {
    let emu = Emulator::start().await;
    let workload = emu.lambda_as(DEPLOYER, Some("ext-7")).await;
    assert!(list_uuids(&workload).await.is_empty());

    // The session lasts the default hour on the emulator's clock. The SDK's clock did not
    // move, so it keeps sending the cached credentials, and Lambda refuses them.
    emu.clock.advance(Duration::from_secs(3600));
    let err = workload
        .list_event_source_mappings()
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(403));
    assert_eq!(err.code(), Some("ExpiredTokenException"));
    assert_eq!(
        err.message(),
        Some("The security token included in the request is expired")
    );
    let log = emu.get("/_emulator/requests").await;
    assert_eq!(log[1]["status"], 403);
    assert_eq!(log[1]["account"], Value::Null);
    // Refused at the door: not a Lambda call of any account.
    assert_eq!(
        emu.get(&format!("/_emulator/calls?account={WORKLOAD}"))
            .await["ListEventSourceMappings"],
        1
    );

    // The admin hook expires sessions at once (for beds that run on real time), and STS
    // refuses an expired session that tries to chain into another role.
    let assumed = emu
        .sts()
        .assume_role()
        .role_arn(DEPLOYER)
        .role_session_name("chain")
        .external_id("ext-7")
        .send()
        .await
        .unwrap();
    let c = assumed.credentials().unwrap();
    let expired = emu
        .admin(
            "POST",
            "/_emulator/sessions/expire",
            json!({"accessKeyId": c.access_key_id()}),
        )
        .await
        .json();
    assert_eq!(expired, json!({"expired": 1}));
    let session = sdk_config(
        emu.addr,
        Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_owned()),
            None,
            "test",
        ),
    )
    .await;
    let err = aws_sdk_sts::Client::new(&session)
        .assume_role()
        .role_arn(DEPLOYER)
        .role_session_name("again")
        .external_id("ext-7")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(err.code(), Some("ExpiredToken"));

    // A temporary key STS never issued is not a caller at all.
    let forged = sdk_config(
        emu.addr,
        Credentials::new(
            "ASIAFORGEDFORGED0000",
            "secret",
            Some("token".into()),
            None,
            "test",
        ),
    )
    .await;
    let err = aws_sdk_lambda::Client::new(&forged)
        .list_event_source_mappings()
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("UnrecognizedClientException"));
}

#[tokio::test]
async fn duration_seconds_sets_the_expiration_and_the_minimum_is_configurable() {
    let emu = Emulator::start().await;
    let assume = |seconds: i32| {
        emu.sts()
            .assume_role()
            .role_arn(DEPLOYER)
            .role_session_name("timed")
            .external_id("ext-7")
            .duration_seconds(seconds)
            .send()
    };
    let expiration = |out: &aws_sdk_sts::operation::assume_role::AssumeRoleOutput| {
        out.credentials().unwrap().expiration().secs()
    };
    let out = assume(900).await.unwrap();
    let lasts = expiration(&out) - now_epoch_seconds();
    assert!((895..=900).contains(&lasts), "{lasts}");

    let err = assume(899).await.unwrap_err().into_service_error();
    assert_eq!(err.code(), Some("ValidationError"));
    assert_eq!(
        err.message(),
        Some(
            "1 validation error detected: Value '899' at 'durationSeconds' failed to satisfy \
             constraint: Member must have value greater than or equal to 900"
        )
    );
    // Above the role's MaxSessionDuration (the default hour).
    let err = assume(3601).await.unwrap_err().into_service_error();
    assert_eq!(err.code(), Some("ValidationError"));
    assert_eq!(
        err.message(),
        Some("The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
    );

    emu.admin("POST", "/_emulator/sts", json!({"minDurationSeconds": 1}))
        .await;
    let out = assume(5).await.unwrap();
    let lasts = expiration(&out) - now_epoch_seconds();
    assert!((0..=5).contains(&lasts), "{lasts}");
}

#[tokio::test]
async fn short_sessions_make_the_sdk_assume_the_role_again() {
    let emu = Emulator::start().await;
    emu.admin("POST", "/_emulator/sts", json!({"minDurationSeconds": 1}))
        .await;
    let provider = AssumeRoleProvider::builder(DEPLOYER)
        .session_name("refresh")
        .external_id("ext-7")
        .session_length(Duration::from_secs(2))
        .configure(&emu.base)
        .build()
        .await;
    let client = aws_sdk_lambda::Client::from_conf(
        aws_sdk_lambda::config::Builder::from(&emu.base)
            .credentials_provider(provider)
            .build(),
    );
    for _ in 0..3 {
        list_uuids(&client).await;
    }
    // Credentials that expire within the SDK's refresh buffer are fetched anew for each call.
    assert_eq!(emu.get("/_emulator/calls").await["AssumeRole"], 3);
    assert_eq!(
        emu.get("/_emulator/sessions")
            .await
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

#[tokio::test]
async fn each_account_has_its_own_rate_limit_bucket() {
    let emu = Emulator::start().await;
    emu.admin("POST", "/_emulator/rate-limit", json!({"perSecond": 2}))
        .await;
    let home = emu.lambda();
    let workload = emu.lambda_as(DEPLOYER, Some("ext-7")).await;
    for _ in 0..2 {
        list_uuids(&home).await;
    }
    let err = home.list_event_source_mappings().send().await.unwrap_err();
    assert_eq!(err.code(), Some("TooManyRequestsException"));
    // The time has not moved, yet the workload account still has its full bucket.
    for _ in 0..2 {
        list_uuids(&workload).await;
    }
    let err = workload
        .list_event_source_mappings()
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("TooManyRequestsException"));
}

/// `{"iss":"https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE","sub":
/// "system:serviceaccount:esm-system:esm-controller","aud":"sts.amazonaws.com","exp":4102444800}`
const IRSA_CLAIMS: &str = "eyJpc3MiOiJodHRwczovL29pZGMuZWtzLnVzLWVhc3QtMS5hbWF6b25hd3MuY29tL2lkL0VYQU1QTEUiLCJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6ZXNtLXN5c3RlbTplc20tY29udHJvbGxlciIsImF1ZCI6InN0cy5hbWF6b25hd3MuY29tIiwiZXhwIjo0MTAyNDQ0ODAwfQ";

#[tokio::test]
async fn web_identity_assumes_a_role_that_trusts_the_issuer() {
    let emu = Emulator::start().await;
    let irsa = "arn:aws:iam::111111111111:role/irsa";
    emu.admin(
        "POST",
        "/_emulator/roles",
        json!({
            "roleArn": irsa,
            "trust": ["arn:aws:iam::111111111111:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE"],
        }),
    )
    .await;
    let token = format!("eyJhbGciOiJSUzI1NiJ9.{IRSA_CLAIMS}.c2lnbmF0dXJl");
    let out = emu
        .sts()
        .assume_role_with_web_identity()
        .role_arn(irsa)
        .role_session_name("pod")
        .web_identity_token(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        out.subject_from_web_identity_token(),
        Some("system:serviceaccount:esm-system:esm-controller")
    );
    assert_eq!(out.audience(), Some("sts.amazonaws.com"));
    assert_eq!(
        out.provider(),
        Some("oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE")
    );
    assert_eq!(
        out.assumed_role_user().unwrap().arn(),
        "arn:aws:sts::111111111111:assumed-role/irsa/pod"
    );
    // Counted against the role's account (the caller has no account of its own).
    assert_eq!(
        emu.get(&format!("/_emulator/calls?account={WORKLOAD}"))
            .await["AssumeRoleWithWebIdentity"],
        1
    );

    // The deployer role trusts HOME's callers, not this issuer; a token that is no JWT is
    // refused before any role is looked at.
    let err = emu
        .sts()
        .assume_role_with_web_identity()
        .role_arn(DEPLOYER)
        .role_session_name("pod")
        .web_identity_token(&token)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(err.code(), Some("AccessDenied"));
    let err = emu
        .sts()
        .assume_role_with_web_identity()
        .role_arn(irsa)
        .role_session_name("pod")
        .web_identity_token("opaque-access-token")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(err.code(), Some("InvalidIdentityToken"));
}

#[tokio::test]
async fn query_protocol_wire_shapes() {
    let emu = Emulator::start().await;
    let signed = "AWS4-HMAC-SHA256 Credential=AKIDEMULATOR/20260101/us-east-1/sts/aws4_request, \
                  SignedHeaders=host, Signature=00";
    let form = [
        (
            "Content-Type",
            "application/x-www-form-urlencoded; charset=utf-8",
        ),
        ("Authorization", signed),
    ];
    let body = "Action=AssumeRole&Version=2011-06-15\
                &RoleArn=arn%3Aaws%3Aiam%3A%3A111111111111%3Arole%2Fesm-deployer\
                &RoleSessionName=raw&ExternalId=ext-7&DurationSeconds=900\
                &Tags.member.1.Key=team&Tags.member.1.Value=payments";
    let ok = raw_with(emu.addr, "POST", "/", &form, body).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.header("content-type"), Some("text/xml"));
    let request_id = ok.header("x-amzn-RequestId").unwrap().to_owned();
    for element in [
        "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleResult><Credentials><AccessKeyId>ASIA",
        "<SecretAccessKey>",
        "<SessionToken>",
        "<Expiration>",
        "</Credentials><AssumedRoleUser><AssumedRoleId>AROA",
        "<Arn>arn:aws:sts::111111111111:assumed-role/esm-deployer/raw</Arn></AssumedRoleUser></AssumeRoleResult>",
        &format!(
            "<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></AssumeRoleResponse>"
        ),
    ] {
        assert!(ok.body.contains(element), "{element} in {}", ok.body);
    }
    let sessions = emu.get("/_emulator/sessions").await;
    assert_eq!(sessions[0]["tags"], json!({"team": "payments"}));
    // Neither the secret nor the token is ever listed.
    let session_listing = sessions.to_string();
    let secret = ok.body.split("<SecretAccessKey>").nth(1).unwrap();
    let secret = secret.split('<').next().unwrap();
    assert!(!session_listing.contains(secret));

    let denied = raw_with(
        emu.addr,
        "POST",
        "/",
        &form,
        "Action=AssumeRole&Version=2011-06-15\
         &RoleArn=arn%3Aaws%3Aiam%3A%3A111111111111%3Arole%2Fesm-deployer&RoleSessionName=raw",
    )
    .await;
    assert_eq!(denied.status, 403);
    let request_id = denied.header("x-amzn-RequestId").unwrap();
    assert_eq!(
        denied.body,
        format!(
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error>\
             <Type>Sender</Type><Code>AccessDenied</Code><Message>User: \
             arn:aws:iam::123456789012:user/AKIDEMULATOR is not authorized to perform: \
             sts:AssumeRole on resource: arn:aws:iam::111111111111:role/esm-deployer\
             </Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )
    );

    let unsigned = raw_with(
        emu.addr,
        "POST",
        "/",
        &form[..1],
        "Action=GetCallerIdentity&Version=2011-06-15",
    )
    .await;
    assert_eq!(unsigned.status, 403);
    assert!(
        unsigned
            .body
            .contains("<Code>MissingAuthenticationToken</Code>")
    );
    let unknown = raw_with(emu.addr, "POST", "/", &form, "Action=GetFederationToken").await;
    assert_eq!(unknown.status, 400);
    assert!(unknown.body.contains("<Code>InvalidAction</Code>"));

    // Admin input is checked.
    for (path, body) in [
        (
            "/_emulator/roles",
            json!({"roleArn": "arn:aws:iam::1:role/x"}),
        ),
        (
            "/_emulator/functions",
            json!({"name": "f", "account": "12"}),
        ),
        (
            "/_emulator/access-keys",
            json!({"accessKeyId": "ASIAX", "account": WORKLOAD}),
        ),
    ] {
        assert_eq!(
            raw(emu.addr, "POST", path, Some(body)).await.status,
            400,
            "{path}"
        );
    }
}

#[tokio::test]
async fn admin_hooks_find_mappings_in_any_account_and_reset_forgets_them_all() {
    let emu = Emulator::start().await;
    let workload = emu.lambda_as(DEPLOYER, Some("ext-7")).await;
    let uuid = workload
        .create_event_source_mapping()
        .function_name("payments")
        .event_source_arn(QUEUE)
        .send()
        .await
        .unwrap()
        .uuid()
        .unwrap()
        .to_owned();
    emu.admin(
        "POST",
        &format!("/_emulator/mappings/{uuid}/lambda-disable"),
        json!({"reason": "PROBLEM: test"}),
    )
    .await;
    let seen = emu.get(&format!("/_emulator/mappings/{uuid}")).await;
    assert_eq!(seen["State"], "Disabled");
    // Faults go to the account they name.
    emu.admin(
        "POST",
        "/_emulator/faults",
        json!({"operation": "ListEventSourceMappings", "account": WORKLOAD, "status": 500}),
    )
    .await;
    assert!(list_uuids(&emu.lambda()).await.is_empty());
    let err = workload
        .list_event_source_mappings()
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ServiceException"));
    emu.admin("DELETE", "/_emulator/faults", json!({})).await;

    emu.admin("POST", "/_emulator/reset", json!({})).await;
    assert_eq!(emu.get("/_emulator/mappings").await, json!([]));
    assert_eq!(emu.get("/_emulator/calls").await, json!({}));
    // Sessions survive a reset: the client's cached credentials still work.
    assert!(list_uuids(&workload).await.is_empty());
}
