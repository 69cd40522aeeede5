//! The simulator's Finesse REST API over real HTTP: every endpoint's success
//! and each documented error status, the request log, the scenario API, and
//! the notifications a request causes (in-process sink).

use std::time::Duration;

use reqwest::{Client, Response, StatusCode};
use switchboard_finesse::*;
use switchboard_sim::{Notice, NoticeSink, RunningSim, SimConfig, SimOptions, start};
use tokio::sync::mpsc;

struct Fixture {
    sim: RunningSim,
    notices: mpsc::UnboundedReceiver<Notice>,
    http: Client,
}

async fn fixture() -> Fixture {
    let (tx, notices) = mpsc::unbounded_channel();
    let any = "127.0.0.1:0".parse().expect("addr");
    let sim = start(SimOptions {
        config: SimConfig::default(),
        primary: any,
        secondary: Some(any),
        scenario: Some(any),
        sink: NoticeSink::Channel(tx),
    })
    .await
    .expect("simulator starts");
    Fixture {
        sim,
        notices,
        http: Client::new(),
    }
}

impl Fixture {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.sim.primary)
    }

    fn scenario(&self, path: &str) -> String {
        format!("http://{}{path}", self.sim.scenario)
    }

    async fn get(&self, path: &str, user: &str, password: &str) -> Response {
        self.http
            .get(self.url(path))
            .basic_auth(user, Some(password))
            .send()
            .await
            .expect("GET")
    }

    async fn put(&self, path: &str, user: &str, body: String, request_id: &str) -> Response {
        self.http
            .put(self.url(path))
            .basic_auth(user, Some("demo"))
            .header("Content-Type", "application/xml")
            .header("requestId", request_id)
            .body(body)
            .send()
            .await
            .expect("PUT")
    }

    async fn post(&self, path: &str, user: &str, body: String) -> Response {
        self.http
            .post(self.url(path))
            .basic_auth(user, Some("demo"))
            .body(body)
            .send()
            .await
            .expect("POST")
    }

    async fn sign_in_ready(&self, agent: &str, ext: &str) {
        let login = UserRequest {
            state: UserState::Login,
            extension: Some(ext.into()),
            reason_code_id: None,
        };
        assert_eq!(
            self.put(
                &format!("/finesse/api/User/{agent}"),
                agent,
                login.to_xml(),
                "l"
            )
            .await
            .status(),
            202
        );
        let ready = UserRequest {
            state: UserState::Ready,
            ..Default::default()
        };
        assert_eq!(
            self.put(
                &format!("/finesse/api/User/{agent}"),
                agent,
                ready.to_xml(),
                "r"
            )
            .await
            .status(),
            202
        );
    }

    async fn start_call(&self, agent: &str, kind: &str) -> String {
        let r = self
            .http
            .post(self.scenario("/sim/calls"))
            .json(&serde_json::json!({"agent": agent, "kind": kind}))
            .send()
            .await
            .expect("scenario");
        assert_eq!(r.status(), StatusCode::CREATED);
        r.json::<serde_json::Value>().await.expect("json")["dialogId"]
            .as_str()
            .expect("id")
            .to_owned()
    }

    async fn out_of_service(&self) {
        let r = self
            .http
            .post(self.scenario("/sim/status"))
            .json(&serde_json::json!({"side": "primary", "status": "OUT_OF_SERVICE", "reason": "test"}))
            .send()
            .await
            .expect("status");
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
    }

    /// Notices until none arrives for 200 ms.
    async fn drain(&mut self) -> Vec<Notice> {
        let mut out = Vec::new();
        while let Ok(Some(n)) =
            tokio::time::timeout(Duration::from_millis(200), self.notices.recv()).await
        {
            out.push(n);
        }
        out
    }
}

async fn api_error(r: Response) -> (u16, ApiError) {
    let status = r.status().as_u16();
    let body = r.text().await.expect("body");
    let errors = ApiError::list_from_xml(&body)
        .unwrap_or_else(|e| panic!("ApiErrors body expected ({e}): {body}"));
    (status, errors.into_iter().next().expect("one error"))
}

#[tokio::test]
async fn system_info_on_both_nodes_and_out_of_service() {
    let f = fixture().await;
    let r = f
        .http
        .get(f.url("/finesse/api/SystemInfo"))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 200);
    let info = SystemInfo::from_xml(&r.text().await.expect("body")).expect("SystemInfo");
    assert_eq!(info.status, SystemStatus::InService);
    assert_eq!(info.xmpp_domain.as_deref(), Some("finesse.local"));
    assert_eq!(
        info.xmpp_pub_sub_domain.as_deref(),
        Some("pubsub.finesse.local")
    );
    f.out_of_service().await;
    let r = f
        .http
        .get(f.url("/finesse/api/SystemInfo"))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 200, "SystemInfo answers out of service");
    assert_eq!(
        SystemInfo::from_xml(&r.text().await.expect("b"))
            .expect("x")
            .status,
        SystemStatus::OutOfService
    );
    let secondary = format!(
        "http://{}/finesse/api/SystemInfo",
        f.sim.secondary.expect("pair")
    );
    let r = f.http.get(secondary).send().await.expect("GET");
    assert_eq!(
        SystemInfo::from_xml(&r.text().await.expect("b"))
            .expect("x")
            .status,
        SystemStatus::InService
    );
}

#[tokio::test]
async fn get_user_statuses() {
    let f = fixture().await;
    let r = f.get("/finesse/api/User/1001001", "1001001", "demo").await;
    assert_eq!(r.status(), 200);
    let user = User::from_xml(&r.text().await.expect("b")).expect("User");
    assert_eq!(
        (user.login_id.as_str(), user.state),
        ("1001001", UserState::Logout)
    );
    assert_eq!(user.team_id.as_deref(), Some("5000"));
    // A supervisor may read its team's agents.
    assert_eq!(
        f.get("/finesse/api/User/1001001", "2001001", "demo")
            .await
            .status(),
        200
    );
    let (s, e) = api_error(f.get("/finesse/api/User/1001001", "1001001", "wrong").await).await;
    assert_eq!((s, e.error_type.as_str()), (401, "Authorization Failure"));
    let (s, e) = api_error(f.get("/finesse/api/User/1001001", "1001002", "demo").await).await;
    assert_eq!(
        (s, e.error_type.as_str()),
        (401, "Invalid Authorization User Specified")
    );
    let (s, _) = api_error(f.get("/finesse/api/User/9999999", "1001001", "demo").await).await;
    assert_eq!(s, 404);
    let r = f
        .http
        .get(f.url("/finesse/api/User/1001001"))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 401, "no credentials");
    f.out_of_service().await;
    let (s, e) = api_error(f.get("/finesse/api/User/1001001", "1001001", "demo").await).await;
    assert_eq!((s, e.error_type.as_str()), (503, "Service Unavailable"));
}

#[tokio::test]
async fn put_user_statuses_and_notifications() {
    let mut f = fixture().await;
    let login = UserRequest {
        state: UserState::Login,
        extension: Some("5001".into()),
        reason_code_id: None,
    };
    let r = f
        .put(
            "/finesse/api/User/1001001",
            "1001001",
            login.to_xml(),
            "req-login",
        )
        .await;
    assert_eq!(r.status(), 202);
    assert_eq!(
        r.headers().get("requestId").and_then(|v| v.to_str().ok()),
        Some("req-login")
    );
    assert!(
        r.text().await.expect("b").is_empty(),
        "202 has an empty body"
    );
    let notices = f.drain().await;
    assert_eq!(notices[0].node, Node::User("1001001".into()));
    let u = parse_update(&notices[0].update_xml).expect("Update");
    assert_eq!(u.request_id.as_deref(), Some("req-login"));
    assert!(matches!(u.data, UpdateData::User(ref user) if user.state == UserState::NotReady));
    assert_eq!(notices[1].node, Node::TeamUsers("5000".into()));

    let (s, e) = api_error(
        f.put(
            "/finesse/api/User/1001001",
            "1001001",
            "<User><extension>1</extension></User>".into(),
            "x",
        )
        .await,
    )
    .await;
    assert_eq!((s, e.error_type.as_str()), (400, "Parameter Missing"));
    let (s, e) = api_error(
        f.put(
            "/finesse/api/User/1001001",
            "1001001",
            "<User><state>READY".into(),
            "x",
        )
        .await,
    )
    .await;
    assert_eq!((s, e.error_type.as_str()), (400, "Invalid Input"));
    let no_ext = UserRequest {
        state: UserState::Login,
        ..Default::default()
    };
    let (s, _) = api_error(
        f.put("/finesse/api/User/1001002", "1001002", no_ext.to_xml(), "x")
            .await,
    )
    .await;
    assert_eq!(s, 400);
    let ready = UserRequest {
        state: UserState::Ready,
        ..Default::default()
    };
    let (s, _) = api_error(
        f.put("/finesse/api/User/1001001", "1001002", ready.to_xml(), "x")
            .await,
    )
    .await;
    assert_eq!(s, 401);
    let (s, _) = api_error(
        f.put("/finesse/api/User/9999999", "1001001", ready.to_xml(), "x")
            .await,
    )
    .await;
    assert_eq!(s, 404);
    f.out_of_service().await;
    let (s, _) = api_error(
        f.put("/finesse/api/User/1001001", "1001001", ready.to_xml(), "x")
            .await,
    )
    .await;
    assert_eq!(s, 503);
}

#[tokio::test]
async fn dialogs_get_and_make_call() {
    let f = fixture().await;
    f.sign_in_ready("1001001", "5001").await;
    let r = f
        .get("/finesse/api/User/1001001/Dialogs", "1001001", "demo")
        .await;
    assert_eq!(r.status(), 200);
    assert!(
        Dialog::list_from_xml(&r.text().await.expect("b"))
            .expect("list")
            .is_empty()
    );
    let id = f.start_call("1001001", "inbound").await;
    let r = f
        .get("/finesse/api/User/1001001/Dialogs", "1001001", "demo")
        .await;
    let list = Dialog::list_from_xml(&r.text().await.expect("b")).expect("list");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].id, id);
    assert_eq!(
        api_error(
            f.get("/finesse/api/User/1001001/Dialogs", "1001002", "demo")
                .await
        )
        .await
        .0,
        401
    );
    assert_eq!(
        api_error(
            f.get("/finesse/api/User/9999999/Dialogs", "1001001", "demo")
                .await
        )
        .await
        .0,
        404
    );

    f.sign_in_ready("1001002", "5002").await;
    let mc = MakeCallRequest {
        from_address: "5002".into(),
        to_address: "6175550142".into(),
        call_variables: vec![],
    };
    assert_eq!(
        f.post("/finesse/api/User/1001002/Dialogs", "1001002", mc.to_xml())
            .await
            .status(),
        202
    );
    let to_self = MakeCallRequest {
        to_address: "5002".into(),
        ..mc.clone()
    };
    let (s, e) = api_error(
        f.post(
            "/finesse/api/User/1001002/Dialogs",
            "1001002",
            to_self.to_xml(),
        )
        .await,
    )
    .await;
    assert_eq!((s, e.error_type.as_str()), (400, "Invalid Destination"));
    let (s, _) = api_error(
        f.post(
            "/finesse/api/User/1001002/Dialogs",
            "1001002",
            "<Dialog/>".into(),
        )
        .await,
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(
        api_error(
            f.post("/finesse/api/User/1001002/Dialogs", "1001001", mc.to_xml())
                .await
        )
        .await
        .0,
        401
    );
    assert_eq!(
        api_error(
            f.post("/finesse/api/User/9999999/Dialogs", "1001001", mc.to_xml())
                .await
        )
        .await
        .0,
        401
    );
    f.out_of_service().await;
    assert_eq!(
        api_error(
            f.get("/finesse/api/User/1001001/Dialogs", "1001001", "demo")
                .await
        )
        .await
        .0,
        503
    );
    assert_eq!(
        api_error(
            f.post("/finesse/api/User/1001002/Dialogs", "1001002", mc.to_xml())
                .await
        )
        .await
        .0,
        503
    );
}

#[tokio::test]
async fn dialog_get_and_put() {
    let mut f = fixture().await;
    f.sign_in_ready("1001001", "5001").await;
    let id = f.start_call("1001001", "preview").await;
    let r = f
        .get(&format!("/finesse/api/Dialog/{id}"), "1001001", "demo")
        .await;
    assert_eq!(r.status(), 200);
    let d = Dialog::from_xml(&r.text().await.expect("b")).expect("Dialog");
    assert_eq!(
        d.media_properties.call_type,
        Some(CallType::OutboundPreview)
    );
    assert_eq!(
        api_error(f.get("/finesse/api/Dialog/404404", "1001001", "demo").await)
            .await
            .0,
        404
    );
    assert_eq!(
        api_error(
            f.get(&format!("/finesse/api/Dialog/{id}"), "1001001", "bad")
                .await
        )
        .await
        .0,
        401
    );
    f.drain().await;

    // A disallowed action: 202, then a CTI error notification carrying the requestId.
    let hold = DialogRequest {
        action: DialogAction::Hold,
        target_media_address: Some("5001".into()),
    };
    let path = format!("/finesse/api/Dialog/{id}");
    assert_eq!(
        f.put(&path, "1001001", hold.to_xml(), "req-hold-1")
            .await
            .status(),
        202
    );
    let notices = f.drain().await;
    assert_eq!(notices.len(), 1);
    let u = parse_update(&notices[0].update_xml).expect("Update");
    assert_eq!(u.request_id.as_deref(), Some("req-hold-1"));
    assert!(
        matches!(u.data, UpdateData::ApiErrors(ref e) if e[0].error_message == "INVALID_ACTION HOLD on extension 5001")
    );

    let missing = "<Dialog><requestedAction>TRANSFER_SST</requestedAction><targetMediaAddress>5001</targetMediaAddress></Dialog>";
    let (s, e) = api_error(f.put(&path, "1001001", missing.into(), "x").await).await;
    assert_eq!((s, e.error_type.as_str()), (400, "Parameter Missing"));
    let accept = DialogRequest {
        action: DialogAction::Accept,
        target_media_address: Some("5001".into()),
    };
    assert_eq!(
        api_error(f.put(&path, "1001002", accept.to_xml(), "x").await)
            .await
            .0,
        401
    );
    assert_eq!(
        api_error(
            f.put(
                "/finesse/api/Dialog/404404",
                "1001001",
                accept.to_xml(),
                "x"
            )
            .await
        )
        .await
        .0,
        404
    );
    assert_eq!(
        f.put(&path, "1001001", accept.to_xml(), "req-accept")
            .await
            .status(),
        202
    );
    let kinds: Vec<String> = f
        .drain()
        .await
        .iter()
        .map(|n| {
            let u = parse_update(&n.update_xml).expect("Update");
            format!("{} {}", n.node, u.event)
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "/finesse/api/User/1001001/Dialogs PUT",
            "/finesse/api/User/1001001/Dialogs DELETE",
            "/finesse/api/User/1001001/Dialogs POST",
            "/finesse/api/User/1001001 PUT",
            "/finesse/api/Team/5000/Users PUT",
            "/finesse/api/User/1001001/Dialogs PUT",
        ]
    );
    f.out_of_service().await;
    assert_eq!(
        api_error(f.put(&path, "1001001", accept.to_xml(), "x").await)
            .await
            .0,
        503
    );
    assert_eq!(
        api_error(f.get(&path, "1001001", "demo").await).await.0,
        503
    );
}

#[tokio::test]
async fn team_statuses() {
    let f = fixture().await;
    let r = f.get("/finesse/api/Team/5000", "2001001", "demo").await;
    assert_eq!(r.status(), 200);
    let team = Team::from_xml(&r.text().await.expect("b")).expect("Team");
    assert_eq!(team.users.len(), 11);
    assert_eq!(
        api_error(f.get("/finesse/api/Team/6000", "2001001", "demo").await)
            .await
            .0,
        404
    );
    assert_eq!(
        api_error(f.get("/finesse/api/Team/5000", "2001001", "nope").await)
            .await
            .0,
        401
    );
    f.out_of_service().await;
    assert_eq!(
        api_error(f.get("/finesse/api/Team/5000", "2001001", "demo").await)
            .await
            .0,
        503
    );
}

#[tokio::test]
async fn request_log_and_scenario_errors() {
    let f = fixture().await;
    f.sign_in_ready("1001001", "5001").await;
    let log: serde_json::Value = f
        .http
        .get(f.scenario("/sim/requests"))
        .send()
        .await
        .expect("log")
        .json()
        .await
        .expect("json");
    let entries = log.as_array().expect("array");
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["action"], "LOGIN");
    assert_eq!(entries[0]["requestId"], "l");
    assert_eq!(entries[1]["status"], 202);
    assert_eq!(f.sim.sim.request_log().len(), 2);
    let r = f
        .http
        .post(f.scenario("/sim/calls"))
        .json(&serde_json::json!({"agent": "1001002", "kind": "inbound"}))
        .send()
        .await
        .expect("call");
    assert_eq!(r.status(), StatusCode::CONFLICT, "agent not signed in");
    let r = f
        .http
        .post(f.scenario("/sim/calls"))
        .body("{nope")
        .send()
        .await
        .expect("call");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = f
        .http
        .post(f.scenario("/sim/calls"))
        .json(&serde_json::json!({"agent": "1001001", "kind": "teleport"}))
        .send()
        .await
        .expect("call");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = f
        .http
        .delete(f.scenario("/sim/requests"))
        .send()
        .await
        .expect("clear");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(f.sim.sim.request_log().is_empty());
}

#[tokio::test]
async fn load_generator_starts_calls_and_simulated_agents_answer() {
    let f = fixture().await;
    for i in 1..=3 {
        f.sign_in_ready(&format!("100100{i}"), &format!("500{i}"))
            .await;
    }
    let r = f
        .http
        .post(f.scenario("/sim/load"))
        .json(&serde_json::json!({"calls_per_second": 50.0, "answer_after": 0.05, "talk_for": 0.1}))
        .send()
        .await
        .expect("load");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    // Calls start, get answered and end; wait until some agent has talked.
    let mut talked = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if f.sim
            .sim
            .world()
            .users()
            .iter()
            .any(|u| u.state == UserState::Talking)
        {
            talked = true;
            break;
        }
    }
    assert!(talked, "a simulated agent answered a generated call");
    let r = f
        .http
        .delete(f.scenario("/sim/load"))
        .send()
        .await
        .expect("stop");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn node_down_drops_that_nodes_notifications_only() {
    let mut f = fixture().await;
    let down = |d: bool| serde_json::json!({"node": "/finesse/api/Team/5000/Users", "down": d});
    let r = f
        .http
        .post(f.scenario("/sim/nodes/down"))
        .json(&down(true))
        .send()
        .await
        .expect("down");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let login = UserRequest {
        state: UserState::Login,
        extension: Some("5001".into()),
        reason_code_id: None,
    };
    f.put("/finesse/api/User/1001001", "1001001", login.to_xml(), "a")
        .await;
    let nodes: Vec<Node> = f.drain().await.into_iter().map(|n| n.node).collect();
    assert_eq!(
        nodes,
        [Node::User("1001001".into())],
        "the Team node is down"
    );
    f.http
        .post(f.scenario("/sim/nodes/down"))
        .json(&down(false))
        .send()
        .await
        .expect("up");
    let ready = UserRequest {
        state: UserState::Ready,
        ..Default::default()
    };
    f.put("/finesse/api/User/1001001", "1001001", ready.to_xml(), "b")
        .await;
    let nodes: Vec<Node> = f.drain().await.into_iter().map(|n| n.node).collect();
    assert_eq!(
        nodes,
        [Node::User("1001001".into()), Node::TeamUsers("5000".into())]
    );
}
