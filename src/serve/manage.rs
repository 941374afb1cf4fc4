//! The contact card, tags, saved segments and LINE quotas. Tags and saved segments are
//! shared names; every count is of the caller's contacts only.

use std::sync::Arc;

use axum::extract::State;
use reach::access::{Action, Grant};
use reach::engine::View;
use reach::model::json::{contact_json, status};
use reach::model::time::format_rfc3339;
use reach::{Edit, Error, Identity};
use roaring::RoaringBitmap;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::app::App;
use super::auth::{Caller, JsonBody, PathParams, QueryParams};
use super::error::{
    ApiError, BodyErrors, BodyLookupErrors, LookupErrors, PlainErrors, QueryErrors,
};
use super::query::{IdentityBody, identity};

/// The rows the grant reaches now.
fn reached(app: &App, view: &View<'_>, grant: &Grant) -> Result<RoaringBitmap, Error> {
    view.reach(&grant.scope, app.clock())
}

/// A contact's identity in a path.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ContactPath {
    #[param(value_type = super::schemas::ChannelName, inline)]
    pub channel: String,
    pub account: String,
    pub external_id: String,
}

#[utoipa::path(get, path = "/contacts/{channel}/{account}/{external_id}", tag = "read",
    params(ContactPath),
    responses((status = 200, description = "the contact's card: every field, `status`, `saved_segments`", body = Object),
        LookupErrors))]
pub async fn contact(
    State(app): State<Arc<App>>,
    caller: Caller,
    PathParams(ContactPath {
        channel,
        account,
        external_id,
    }): PathParams<ContactPath>,
) -> Result<axum::Json<Value>, ApiError> {
    let grant = caller.may(Action::Read)?.clone();
    let id = identity(&IdentityBody {
        channel,
        account,
        external_id,
    })?;
    let card = app
        .query(move |app| {
            let view = app.engine.read();
            let row = view.store().find(id.channel, &id.account, &id.external_id);
            let reached = match row {
                Some(r) => view.reaches_row(&grant.scope, app.clock(), r)?,
                None => false,
            };
            let row = match row.filter(|_| reached) {
                Some(row) => row,
                None if grant.scope.is_everything() => {
                    return Err(Error::UnknownContact(id.to_string()));
                }
                None => {
                    return Err(Error::Forbidden(format!(
                        "this key does not reach the contact {id}"
                    )));
                }
            };
            card(app, &view, &grant, row, &id)
        })
        .await?;
    Ok(axum::Json(card))
}

fn card(
    app: &App,
    view: &View<'_>,
    grant: &Grant,
    row: u32,
    id: &Identity,
) -> Result<Value, Error> {
    let one: RoaringBitmap = [row].into_iter().collect();
    let contact = view
        .store()
        .contacts(&one)
        .pop()
        .ok_or_else(|| Error::UnknownContact(id.to_string()))?;
    let mut saved = Vec::new();
    for name in view.saved_segments().keys() {
        let segment = view.compile_in(&format!("@{name}"), app.clock(), &grant.scope)?;
        if view.rows(&segment).contains(row) {
            saved.push(name.clone());
        }
    }
    let mut card = contact_json(&contact, app.engine.time_zone());
    card["status"] = status(&contact).into();
    card["saved_segments"] = saved.into();
    Ok(card)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TagQuery {
    /// Part of a tag's name (any case).
    pub search: Option<String>,
    /// `count`, `created` (default) or `name`, descending; `-count` etc. ascending.
    #[param(value_type = Option<super::schemas::TagSort>, inline)]
    pub sort: Option<String>,
    /// From 1.
    pub page: Option<usize>,
    /// Tags per page (default 20, at most 1000).
    pub page_size: Option<usize>,
}

#[derive(Serialize, ToSchema)]
pub struct TagEntry {
    pub name: String,
    /// Contacts carrying it (that the key reaches).
    pub contacts: u64,
    pub created_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct TagPage {
    pub tags: Vec<TagEntry>,
    /// Tags matching the search.
    pub total: usize,
    pub page: usize,
    pub pages: usize,
}

#[utoipa::path(get, path = "/tags", tag = "read", params(TagQuery),
    responses((status = 200, body = TagPage), QueryErrors))]
pub async fn tags(
    State(app): State<Arc<App>>,
    caller: Caller,
    QueryParams(query): QueryParams<TagQuery>,
) -> Result<axum::Json<TagPage>, ApiError> {
    let grant = caller.may(Action::Read)?.clone();
    let size = query.page_size.unwrap_or(20);
    let page = query.page.unwrap_or(1);
    if !(1..=1000).contains(&size) || page == 0 {
        return Err(ApiError::bad_request(
            "page from 1; page_size from 1 to 1000",
        ));
    }
    let sort = query.sort.unwrap_or_else(|| "created".into());
    let (ascending, key) = match sort.strip_prefix('-') {
        Some(key) => (true, key.to_string()),
        None => (false, sort.clone()),
    };
    if !["count", "created", "name"].contains(&key.as_str()) {
        return Err(ApiError::bad_request(format!(
            "sort '{sort}': use count, created or name (- for ascending)"
        )));
    }
    let answer = app
        .query(move |app| {
            let view = app.engine.read();
            let reach = reached(app, &view, &grant)?;
            let search = query.search.map(|s| s.to_lowercase());
            let mut entries: Vec<TagEntry> = (view.store().tags().iter())
                .filter(|e| {
                    search
                        .as_ref()
                        .is_none_or(|s| e.name.to_lowercase().contains(s))
                })
                .map(|e| TagEntry {
                    name: e.name.to_string(),
                    contacts: e.rows.intersection_len(&reach),
                    created_at: format_rfc3339(e.created_at),
                })
                .collect();
            entries.sort_by(|a, b| match key.as_str() {
                "count" => a
                    .contacts
                    .cmp(&b.contacts)
                    .then_with(|| b.name.cmp(&a.name)),
                "name" => a.name.cmp(&b.name),
                _ => a
                    .created_at
                    .cmp(&b.created_at)
                    .then_with(|| a.name.cmp(&b.name)),
            });
            if !ascending {
                entries.reverse();
            }
            let total = entries.len();
            let tags = entries
                .into_iter()
                .skip((page - 1) * size)
                .take(size)
                .collect();
            Ok(TagPage {
                tags,
                total,
                page,
                pages: total.div_ceil(size).max(1),
            })
        })
        .await?;
    Ok(axum::Json(answer))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagsBody {
    pub tags: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Changed {
    /// Contacts changed.
    pub changed: u64,
}

#[utoipa::path(post, path = "/tags", tag = "change", request_body = TagsBody,
    responses((status = 200, body = Changed), BodyErrors))]
pub async fn create_tags(
    State(app): State<Arc<App>>,
    caller: Caller,
    JsonBody(body): JsonBody<TagsBody>,
) -> Result<axum::Json<Changed>, ApiError> {
    let grant = caller.may(Action::Change)?.clone();
    app.run(move |app| {
        let edits = body
            .tags
            .into_iter()
            .map(|tag| Edit::CreateTag { tag })
            .collect();
        first_error(app.engine.commit_all_in(edits, app.clock(), &grant.scope))
    })
    .await
    .map(axum::Json)
}

#[utoipa::path(delete, path = "/tags", tag = "change", request_body = TagsBody,
    responses((status = 200, body = Changed), BodyLookupErrors))]
pub async fn delete_tags(
    State(app): State<Arc<App>>,
    caller: Caller,
    JsonBody(body): JsonBody<TagsBody>,
) -> Result<axum::Json<Changed>, ApiError> {
    let grant = caller.may(Action::Change)?.clone();
    app.run(move |app| {
        {
            let view = app.engine.read();
            if let Some(unknown) = body.tags.iter().find(|t| view.store().tag(t).is_none()) {
                return Err(Error::NotFound(format!(
                    "there is no tag {unknown:?}; nothing was deleted"
                )));
            }
        }
        let edit = Edit::DeleteTags { tags: body.tags };
        first_error(vec![app.engine.commit_in(edit, app.clock(), &grant.scope)])
    })
    .await
    .map(axum::Json)
}

fn first_error(results: Vec<Result<reach::Committed, Error>>) -> Result<Changed, Error> {
    let mut changed = 0;
    for result in results {
        let c = result?;
        changed += c.applied.created + c.applied.changed;
    }
    Ok(Changed { changed })
}

#[derive(Serialize, ToSchema)]
pub struct SavedSegment {
    pub name: String,
    pub segment: String,
    /// Its contacts (that the key reaches).
    pub count: u64,
}

#[utoipa::path(get, path = "/segments", tag = "read",
    responses((status = 200, body = Vec<SavedSegment>), PlainErrors))]
pub async fn segments(
    State(app): State<Arc<App>>,
    caller: Caller,
) -> Result<axum::Json<Vec<SavedSegment>>, ApiError> {
    let grant = caller.may(Action::Read)?.clone();
    app.query(move |app| {
        let view = app.engine.read();
        let saved = view.saved_segments().clone();
        saved
            .into_iter()
            .map(|(name, segment)| saved_segment(app, &view, &grant, name, segment))
            .collect()
    })
    .await
    .map(axum::Json)
}

fn saved_segment(
    app: &App,
    view: &View<'_>,
    grant: &Grant,
    name: String,
    segment: String,
) -> Result<SavedSegment, Error> {
    let compiled = view.compile_in(&format!("@{name}"), app.clock(), &grant.scope)?;
    Ok(SavedSegment {
        count: view.count(&compiled),
        name,
        segment,
    })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SegmentBody {
    pub segment: String,
}

#[utoipa::path(put, path = "/segments/{name}", tag = "change", request_body = SegmentBody,
    params(("name" = String, Path)),
    responses((status = 200, body = SavedSegment), BodyErrors))]
pub async fn save_segment(
    State(app): State<Arc<App>>,
    caller: Caller,
    PathParams(name): PathParams<String>,
    JsonBody(body): JsonBody<SegmentBody>,
) -> Result<axum::Json<SavedSegment>, ApiError> {
    let grant = caller.may(Action::Change)?.clone();
    app.run(move |app| {
        let edit = Edit::SaveSegment {
            name: name.clone(),
            text: body.segment.clone(),
        };
        app.engine.commit_in(edit, app.clock(), &grant.scope)?;
        let view = app.engine.read();
        saved_segment(app, &view, &grant, name, body.segment)
    })
    .await
    .map(axum::Json)
}

#[utoipa::path(delete, path = "/segments/{name}", tag = "change", params(("name" = String, Path)),
    responses((status = 200, body = Changed), LookupErrors))]
pub async fn forget_segment(
    State(app): State<Arc<App>>,
    caller: Caller,
    PathParams(name): PathParams<String>,
) -> Result<axum::Json<Changed>, ApiError> {
    let grant = caller.may(Action::Change)?.clone();
    app.run(move |app| {
        app.engine
            .commit_in(Edit::ForgetSegment { name }, app.clock(), &grant.scope)?;
        Ok(Changed { changed: 0 })
    })
    .await
    .map(axum::Json)
}

#[derive(Serialize, ToSchema)]
pub struct QuotaEntry {
    pub account: String,
    pub plan: u64,
    pub purchased: u64,
    pub used: u64,
    pub remaining: u64,
}

#[utoipa::path(get, path = "/quota", tag = "read",
    responses((status = 200, body = Vec<QuotaEntry>), PlainErrors))]
pub async fn quotas(
    State(app): State<Arc<App>>,
    caller: Caller,
) -> Result<axum::Json<Vec<QuotaEntry>>, ApiError> {
    let grant = caller.may(Action::Read)?.clone();
    app.query(move |app| {
        let view = app.engine.read();
        let entries = (view.quotas().iter())
            .filter(|(account, _)| grant.scope.reaches_account(account))
            .map(|(account, q)| quota_entry(account, q))
            .collect();
        Ok(entries)
    })
    .await
    .map(axum::Json)
}

fn quota_entry(account: &str, q: &reach::Quota) -> QuotaEntry {
    QuotaEntry {
        account: account.to_string(),
        plan: q.plan,
        purchased: q.purchased,
        used: q.used,
        remaining: q.remaining(),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuotaBody {
    pub plan: Option<u64>,
    pub purchased: Option<u64>,
    pub used: Option<u64>,
}

#[utoipa::path(put, path = "/quota/{account}", tag = "change", request_body = QuotaBody,
    params(("account" = String, Path)),
    responses((status = 200, body = QuotaEntry), BodyLookupErrors))]
pub async fn set_quota(
    State(app): State<Arc<App>>,
    caller: Caller,
    PathParams(account): PathParams<String>,
    JsonBody(body): JsonBody<QuotaBody>,
) -> Result<axum::Json<QuotaEntry>, ApiError> {
    let grant = caller.may(Action::Change)?.clone();
    app.run(move |app| {
        let edit = Edit::SetQuota {
            account: account.clone(),
            plan: body.plan,
            purchased: body.purchased,
            used: body.used,
        };
        app.engine.commit_in(edit, app.clock(), &grant.scope)?;
        let view = app.engine.read();
        let quota = view.quotas().get(&account).copied().unwrap_or_default();
        Ok(quota_entry(&account, &quota))
    })
    .await
    .map(axum::Json)
}

/// One account the caller reaches, with its totals (total = subscribed + unsubscribed).
#[derive(Serialize, ToSchema)]
pub struct AccountEntry {
    #[schema(value_type = super::schemas::ChannelName, inline)]
    pub channel: String,
    pub account: String,
    pub total: u64,
    pub subscribed: u64,
    pub unsubscribed: u64,
}

/// What the caller may do, and the accounts it reaches.
#[derive(Serialize, ToSchema)]
pub struct AccountsAnswer {
    /// The caller's actions (`read`, `change`, `broadcast`, `keys`).
    pub actions: Vec<String>,
    /// Accounts with at least one contact the caller reaches, by channel then id.
    pub accounts: Vec<AccountEntry>,
}

#[utoipa::path(get, path = "/accounts", tag = "read",
    responses((status = 200, body = AccountsAnswer), PlainErrors))]
pub async fn accounts(
    State(app): State<Arc<App>>,
    caller: Caller,
) -> Result<axum::Json<AccountsAnswer>, ApiError> {
    let grant = caller.may(Action::Read)?.clone();
    let actions = grant.actions.iter().map(|a| a.name().to_string()).collect();
    app.query(move |app| {
        let view = app.engine.read();
        let now = app.clock();
        let reach = reached(app, &view, &grant)?;
        let subscribed = view.compile_in("is:subscribed", now, &grant.scope)?;
        let subscribed = view.rows(&subscribed);
        let mut accounts: Vec<AccountEntry> = (view.store().accounts())
            .filter_map(|a| {
                let total = a.rows.intersection_len(&reach);
                let sub = a.rows.intersection_len(&subscribed);
                (total > 0).then(|| AccountEntry {
                    channel: a.channel.name().to_string(),
                    account: a.id.to_string(),
                    total,
                    subscribed: sub,
                    unsubscribed: total - sub,
                })
            })
            .collect();
        accounts.sort_by(|a, b| (&a.channel, &a.account).cmp(&(&b.channel, &b.account)));
        Ok(AccountsAnswer { actions, accounts })
    })
    .await
    .map(axum::Json)
}
