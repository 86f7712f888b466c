//! `/api/v1/groups`, `/api/v1/roles`, `/api/v1/bindings`: who holds which role where.

use super::{change, created, done, not_admin, Who};
use crate::auth::Caller;
use crate::AppState;
use airlock_storage::BindingRecord;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, put};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::json;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/groups", get(list_groups).post(create_group))
        .route("/groups/{name}", delete(delete_group))
        .route(
            "/groups/{name}/members/{user}",
            put(add_member).delete(remove_member),
        )
        .route("/roles", get(list_roles).post(create_role))
        .route("/roles/{name}", delete(delete_role))
        .route(
            "/bindings",
            get(list_bindings).post(add_binding).delete(remove_binding),
        )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Named {
    name: String,
}

async fn list_groups(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Response {
    if let Some(r) = not_admin(&state, &caller).await {
        return r;
    }
    match state.directory.groups().await {
        Ok(groups) => Json(json!({
            "groups": groups.iter().map(|g| json!({"name": g.name, "members": g.members})).collect::<Vec<_>>()
        }))
        .into_response(),
        Err(e) => e.into_response(),
    }
}

async fn create_group(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Json(req): Json<Named>,
) -> Response {
    let target = format!("group:{}", req.name);
    let run = state.directory.create_group(&req.name);
    change(
        &state,
        &caller,
        Who::Admin,
        "group create",
        &target,
        run,
        |()| StatusCode::CREATED.into_response(),
    )
    .await
}

async fn delete_group(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Response {
    let run = state.directory.delete_group(&name);
    change(
        &state,
        &caller,
        Who::Admin,
        "group delete",
        &format!("group:{name}"),
        run,
        done,
    )
    .await
}

async fn add_member(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((group, user)): Path<(String, String)>,
) -> Response {
    let target = format!("group:{group} user:{user}");
    let run = state.directory.add_member(&group, &user);
    change(
        &state,
        &caller,
        Who::Admin,
        "group add member",
        &target,
        run,
        done,
    )
    .await
}

async fn remove_member(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((group, user)): Path<(String, String)>,
) -> Response {
    let target = format!("group:{group} user:{user}");
    let run = state.directory.remove_member(&group, &user);
    change(
        &state,
        &caller,
        Who::Admin,
        "group remove member",
        &target,
        run,
        done,
    )
    .await
}

async fn list_roles(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Response {
    if let Some(r) = not_admin(&state, &caller).await {
        return r;
    }
    match state.directory.roles().await {
        Ok(roles) => Json(json!({
            "roles": roles.iter().map(|(name, actions, built_in)| json!({
                "name": name,
                "actions": actions.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
                "built_in": built_in,
            })).collect::<Vec<_>>()
        }))
        .into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRole {
    name: String,
    actions: Vec<String>,
}

async fn create_role(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Json(req): Json<NewRole>,
) -> Response {
    let target = format!("role:{}", req.name);
    let actions = req.actions.join(",");
    let run = state.directory.create_role(&req.name, &actions);
    change(
        &state,
        &caller,
        Who::Admin,
        "role create",
        &target,
        run,
        |set| {
            let actions: Vec<&str> = set.iter().map(|a| a.as_str()).collect();
            created(json!({"name": req.name, "actions": actions}))
        },
    )
    .await
}

async fn delete_role(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Response {
    let run = state.directory.delete_role(&name);
    change(
        &state,
        &caller,
        Who::Admin,
        "role delete",
        &format!("role:{name}"),
        run,
        done,
    )
    .await
}

async fn list_bindings(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Response {
    if let Some(r) = not_admin(&state, &caller).await {
        return r;
    }
    match state.directory.bindings().await {
        Ok(b) => Json(json!({
            "bindings": b.iter().map(|b| json!({"principal": b.principal, "pattern": b.pattern, "role": b.role})).collect::<Vec<_>>()
        }))
        .into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BindingBody {
    principal: String,
    pattern: String,
    role: String,
}

impl BindingBody {
    fn record(self) -> BindingRecord {
        BindingRecord {
            principal: self.principal,
            pattern: self.pattern,
            role: self.role,
        }
    }
}

fn describe(b: &BindingRecord) -> String {
    format!("{} is {} on {}", b.principal, b.role, b.pattern)
}

async fn add_binding(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Json(req): Json<BindingBody>,
) -> Response {
    let b = req.record();
    let run = async {
        let token_exists = match b.principal.strip_prefix("token:") {
            Some(name) => state.accounts.exists(name).await,
            None => false,
        };
        let valid = state.directory.validate_binding(&b, token_exists).await?;
        state.directory.add_binding(&valid).await
    };
    change(
        &state,
        &caller,
        Who::Admin,
        "binding add",
        &describe(&b),
        run,
        |()| StatusCode::CREATED.into_response(),
    )
    .await
}

async fn remove_binding(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Json(req): Json<BindingBody>,
) -> Response {
    let b = req.record();
    let run = state.directory.remove_binding(&b);
    change(
        &state,
        &caller,
        Who::Admin,
        "binding remove",
        &describe(&b),
        run,
        done,
    )
    .await
}
