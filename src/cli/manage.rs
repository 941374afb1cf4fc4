//! Contact-management commands: quota, tags, tag add/remove, unsubscribe, resubscribe,
//! delete, add-whatsapp, save, segments. Every change of many contacts says how many first.

use super::Context;
use super::args::{Format, TagAction, TagSort, TagsArgs};
use super::output::{Cell, ask, count_of};
use super::query::compile;
use reach::engine::{CONFIRM_WORD, Edit, Target};
use reach::error::Error;
use reach::model::time::format_rfc3339;
use reach::model::{
    Channel, Contact, FieldSet, OptOutKind, OptOuts, Seconds, TextField, international_phone,
};

/// A segment compiled as the target of a change, and how many contacts it holds now.
fn target_of(ctx: &Context, segment: &str) -> Result<(Target, u64), Error> {
    let compiled = compile(ctx, segment)?;
    let n = ctx.engine.count(&compiled);
    Ok((Target::Segment(compiled), n))
}

/// Says how many contacts a change touches; asks to go on when a person is there.
fn confirm_many(ctx: &Context, what: &str, n: u64, yes: bool) -> bool {
    note!("{what} {}.", count_of(n, "contact"));
    if n <= 1 || yes {
        return true;
    }
    let asked = if ctx.interactive || std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        ask("Go on? [y/N] ")
    } else {
        None
    };
    match asked {
        None => true,
        Some(answer) => {
            let go = matches!(answer.to_lowercase().as_str(), "y" | "yes");
            if !go {
                note!("cancelled; nothing changed");
            }
            go
        }
    }
}

/// Quota figures to set: (plan, purchased, used).
type Figures = (Option<u64>, Option<u64>, Option<u64>);

pub fn quota(
    ctx: &mut Context,
    account: Option<String>,
    (plan, purchased, used): Figures,
    format: Format,
) -> Result<(), Error> {
    if let Some(account) =
        account.filter(|_| plan.is_some() || purchased.is_some() || used.is_some())
    {
        let edit = Edit::SetQuota {
            account,
            plan,
            purchased,
            used,
        };
        ctx.engine.commit(edit, ctx.now())?;
    }
    let quotas = ctx.engine.read().quotas().clone();
    let mut accounts = account_ids(ctx, Channel::Line);
    accounts.extend(quotas.keys().cloned());
    accounts.sort();
    accounts.dedup();
    let rows: Vec<Vec<Cell>> = accounts
        .iter()
        .map(|a| {
            let q = quotas.get(a).copied().unwrap_or_default();
            vec![
                a.as_str().into(),
                format!("{}/{}", q.used, q.total()).into(),
                q.plan.into(),
                q.purchased.into(),
                q.remaining().into(),
            ]
        })
        .collect();
    let header = ["LINE account", "used/total", "plan", "purchased", "left"]
        .map(String::from)
        .to_vec();
    super::output::emit(&header, &rows, format)
}

pub fn tags(ctx: &mut Context, args: TagsArgs) -> Result<(), Error> {
    let now = ctx.now();
    for tag in &args.create {
        let edit = Edit::CreateTag { tag: tag.clone() };
        ctx.engine.commit(edit, now)?;
        note!("created tag {:?}", tag.trim());
    }
    if let Some(unknown) = unknown_tags(ctx, &args.delete) {
        return Err(Error::NotFound(format!(
            "no tag {unknown}; nothing was deleted (`reach tags --search TEXT` finds tags)"
        )));
    }
    if !args.delete.is_empty() {
        let carriers: u64 = {
            let view = ctx.engine.read();
            let store = view.store();
            args.delete
                .iter()
                .filter_map(|t| store.tag(t))
                .map(|r| r.len())
                .sum()
        };
        note!(
            "Deleting {} tag(s) removes them from {carriers} contact tag(s).",
            args.delete.len()
        );
        if !confirmed(args.confirm.as_deref())? {
            return Err(Error::Usage(
                "wrong confirmation word: no tag was deleted".into(),
            ));
        }
        let edit = Edit::DeleteTags {
            tags: args.delete.clone(),
        };
        ctx.engine.commit(edit, now)?;
        outln!(
            "deleted {} from {}",
            count_of(args.delete.len() as u64, "tag"),
            count_of(carriers, "contact tag")
        )?;
    }
    if !args.create.is_empty() || !args.delete.is_empty() {
        return Ok(());
    }
    let view = ctx.engine.read();
    let mut entries: Vec<_> = view
        .store()
        .tags()
        .iter()
        .filter(|e| {
            args.search
                .as_ref()
                .is_none_or(|s| e.name.to_lowercase().contains(&s.to_lowercase()))
        })
        .collect();
    match args.sort {
        TagSort::Count => entries.sort_by(|a, b| {
            a.rows
                .len()
                .cmp(&b.rows.len())
                .then_with(|| b.name.cmp(&a.name))
        }),
        TagSort::Created => entries.sort_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then_with(|| a.name.cmp(&b.name))
        }),
        TagSort::Name => entries.sort_by(|a, b| a.name.cmp(&b.name)),
    }
    if !args.asc {
        entries.reverse();
    }
    let size = args.page_size as usize;
    let pages = entries.len().div_ceil(size).max(1);
    let rows: Vec<Vec<Cell>> = entries
        .iter()
        .skip(page_start(args.page, size))
        .take(size)
        .map(|e| {
            vec![
                e.name.to_string().into(),
                e.rows.len().into(),
                format_rfc3339(e.created_at).into(),
            ]
        })
        .collect();
    let header = ["tag", "contacts", "created"].map(String::from);
    super::output::emit(&header, &rows, args.format)?;
    note!("page {} of {pages} ({} tags)", args.page, entries.len());
    Ok(())
}

pub fn tag(
    ctx: &mut Context,
    action: TagAction,
    tag: &str,
    segment: &str,
    yes: bool,
) -> Result<(), Error> {
    let compiled = compile(ctx, segment)?;
    let (n, holding) = {
        let view = ctx.engine.read();
        let rows = view.rows(&compiled);
        let holding = view
            .store()
            .tag(tag.trim())
            .map_or(0, |t| t.intersection_len(&rows));
        (rows.len(), holding)
    };
    let tags = vec![tag.to_string()];
    let target = Target::Segment(compiled);
    // Only the contacts the edit changes count: those without the tag for `add`, those
    // holding it for `remove`.
    let (edit, verb, changing) = match action {
        TagAction::Add => (Edit::AddTags { tags, target }, "Tagging", n - holding),
        TagAction::Remove => (Edit::RemoveTags { tags, target }, "Untagging", holding),
    };
    if changing < n {
        let why = match action {
            TagAction::Add => "already hold the tag",
            TagAction::Remove => "do not hold the tag",
        };
        note!(
            "{} of the segment's {n} {why}.",
            count_of(n - changing, "contact")
        );
    }
    if !confirm_many(ctx, verb, changing, yes) {
        return Ok(());
    }
    let committed = ctx.engine.commit(edit, ctx.now())?;
    outln!("{} changed", count_of(committed.applied.changed, "contact"))?;
    Ok(())
}

/// Tag names of `names` no contact's tag list knows (nor a created tag), each with a
/// suggestion when one is close.
fn unknown_tags(ctx: &Context, names: &[String]) -> Option<String> {
    let view = ctx.engine.read();
    let known: Vec<&str> = view.store().tags().iter().map(|e| &*e.name).collect();
    let unknown: Vec<String> = (names.iter())
        .filter(|t| view.store().tag(t.trim()).is_none())
        .map(|t| match reach::suggest::closest(t, &known) {
            Some(close) => format!("'{t}' (did you mean '{close}'?)"),
            None => format!("'{t}'"),
        })
        .collect();
    (!unknown.is_empty()).then(|| unknown.join(", "))
}

pub fn unsubscribe(
    ctx: &mut Context,
    segment: &str,
    kinds: &[String],
    yes: bool,
) -> Result<(), Error> {
    let kinds: OptOuts = if kinds.is_empty() {
        OptOuts::ALL
    } else {
        kinds
            .iter()
            .map(|k| {
                OptOutKind::parse(k).ok_or_else(|| {
                    Error::Usage(format!(
                        "unknown kind '{k}': use broadcast, site_marketing or cart"
                    ))
                })
            })
            .collect::<Result<_, _>>()?
    };
    let (target, n) = target_of(ctx, segment)?;
    if !confirm_many(ctx, "Unsubscribing", n, yes) {
        return Ok(());
    }
    let committed = ctx
        .engine
        .commit(Edit::Unsubscribe { target, kinds }, ctx.now())?;
    outln!("{} changed", count_of(committed.applied.changed, "contact"))?;
    Ok(())
}

pub fn resubscribe(ctx: &mut Context, segment: &str, yes: bool) -> Result<(), Error> {
    let (target, n) = target_of(ctx, segment)?;
    if !confirm_many(ctx, "Resubscribing", n, yes) {
        return Ok(());
    }
    let blocked = {
        let compiled = compile(ctx, segment)?;
        let view = ctx.engine.read();
        view.rows(&compiled)
            .intersection_len(view.store().flag(reach::model::Flag::Blocked))
    };
    let committed = ctx.engine.commit(Edit::Resubscribe { target }, ctx.now())?;
    outln!("{} changed", count_of(committed.applied.changed, "contact"))?;
    if blocked > 0 {
        note!(
            "note: {} blocked the account: they stay unsubscribed (only the contact can unblock)",
            count_of(blocked, "contact")
        );
    }
    Ok(())
}

/// Whether the confirmation word was given (as an option, or typed when asked).
fn confirmed(word: Option<&str>) -> Result<bool, Error> {
    let word = match word {
        Some(w) => w.to_string(),
        None => ask(&format!("Type {CONFIRM_WORD} to confirm: ")).ok_or_else(|| {
            Error::Usage(format!(
                "refusing to delete without confirmation: pass --confirm {CONFIRM_WORD}"
            ))
        })?,
    };
    Ok(word == CONFIRM_WORD)
}

pub fn delete(ctx: &mut Context, segment: &str, confirm: Option<&str>) -> Result<(), Error> {
    let (target, n) = target_of(ctx, segment)?;
    if n == 0 {
        note!("No contact matches: nothing to delete.");
        return Ok(());
    }
    note!("This permanently erases {}.", count_of(n, "contact"));
    if !confirmed(confirm)? {
        note!(
            "cancelled: the confirmation word is {CONFIRM_WORD} (upper case); nothing was deleted"
        );
        return Err(Error::Usage(
            "wrong confirmation word: nothing was deleted".into(),
        ));
    }
    let named = match (ctx.interactive, &target) {
        (true, Target::Segment(segment)) => what_names(ctx, segment),
        _ => Vec::new(),
    };
    let edit = Edit::Delete {
        target,
        confirm: CONFIRM_WORD.into(),
    };
    let committed = ctx.engine.commit(edit, ctx.now())?;
    ctx.erased = named;
    // Erase now rather than at the next checkpoint: nothing of them stays on disk.
    ctx.engine.compact()?;
    outln!(
        "deleted {}",
        count_of(committed.applied.erased.len() as u64, "contact")
    )?;
    Ok(())
}

/// The external ids, names and other text fields (phones, emails…) of a segment's
/// contacts: what a REPL line may have named them by.
fn what_names(ctx: &Context, segment: &reach::engine::Segment) -> Vec<String> {
    let rows = ctx.engine.rows(segment);
    let view = ctx.engine.read();
    (rows.iter())
        .filter_map(|row| view.store().contact(row))
        .flat_map(|c| {
            [Some(c.external_id), Some(c.name)]
                .into_iter()
                .chain(c.texts)
        })
        .flatten()
        .filter(|value| !value.is_empty())
        .collect()
}

pub fn add_whatsapp(
    ctx: &mut Context,
    name: &str,
    phone: &str,
    account: Option<&str>,
) -> Result<(), Error> {
    let phone = international_phone(phone)
        .ok_or_else(|| Error::Usage(format!("'{phone}' is not an international number: write + and 8 to 15 digits, e.g. +886912345678")))?;
    let accounts = account_ids(ctx, Channel::Whatsapp);
    let account = match (account, accounts.as_slice()) {
        (Some(a), _) => a.to_string(),
        (None, [only]) => only.clone(),
        (None, _) => {
            return Err(Error::Usage(format!(
                "name the WhatsApp business number with --account (known: {})",
                accounts.join(", ")
            )));
        }
    };
    if let Some(row) = ctx
        .engine
        .read()
        .store()
        .find(Channel::Whatsapp, &account, &phone)
    {
        let known = ctx.engine.read().store().name_of(row).trim().to_string();
        return Err(Error::Conflict(format!(
            "{account} has a WhatsApp contact {phone} already ({}): nothing changed (`reach show {account} {phone}` shows it)",
            if known.is_empty() {
                "unnamed".to_string()
            } else {
                format!("named {known}")
            }
        )));
    }
    let now = ctx.now();
    let mut contact = Contact::new(Channel::Whatsapp, &account, &phone);
    contact.name = name.trim().to_string();
    contact.texts[TextField::Phone.index()] = Some(phone.clone());
    // Added now: joined now.
    contact.times[reach::model::TimeField::SubscribedAt.index()] = Some(now);
    let fields = FieldSet::from_iter([
        reach::model::Field::Name,
        reach::model::Field::Phone,
        reach::model::Field::SubscribedAt,
    ]);
    let edit = Edit::Upsert {
        contacts: vec![contact],
        fields,
    };
    ctx.engine.commit(edit, now)?;
    outln!("added WhatsApp contact {phone} on {account}")?;
    Ok(())
}

pub fn save(ctx: &mut Context, name: &str, segment: &str) -> Result<(), Error> {
    let now: Seconds = ctx.now();
    let edit = Edit::SaveSegment {
        name: name.into(),
        text: segment.into(),
    };
    ctx.engine.commit(edit, now)?;
    outln!("saved @{name}")?;
    Ok(())
}

pub fn segments(ctx: &Context, format: Format) -> Result<(), Error> {
    let rows: Vec<Vec<Cell>> = ctx
        .engine
        .saved_segments()
        .into_iter()
        .map(|(n, t)| vec![format!("@{n}").into(), t.into()])
        .collect();
    super::output::emit(&["name".into(), "segment".into()], &rows, format)
}

/// The ids of a channel's accounts, in creation order.
fn account_ids(ctx: &Context, channel: Channel) -> Vec<String> {
    (ctx.engine.read().store().accounts())
        .filter(|a| a.channel == channel)
        .map(|a| a.id.to_string())
        .collect()
}

pub fn unsave(ctx: &mut Context, name: &str) -> Result<(), Error> {
    let name = name.trim_start_matches('@').to_string();
    ctx.engine
        .commit(Edit::ForgetSegment { name: name.clone() }, ctx.now())?;
    outln!("removed @{name}")
}

/// The index of page `page`'s first entry (pages count from 1), saturating: a page past
/// every entry is empty, however large its number.
fn page_start(page: u64, size: usize) -> usize {
    usize::try_from(page.saturating_sub(1))
        .unwrap_or(usize::MAX)
        .saturating_mul(size)
}
