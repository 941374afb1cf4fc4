//! Who receives a broadcast (broadcast.md, "Who receives it"): each audience member is
//! judged once, at the start, by the first reason that applies — blocked, opted out,
//! over quota, not fb_sendable (or no recurring-notification token), outside the 24-hour
//! window (Instagram marketing; Facebook replies), no email, beyond the LINE quota — all
//! with bitmaps, so
//! judging ten million members is a few bitmap operations. A LINE account whose quota is
//! short refuses the broadcast, or with a partial send keeps its first members in identity
//! order (by external id) up to what the quota leaves.

use roaring::RoaringBitmap;

use crate::engine::Excluded;
use crate::engine::View;
use crate::error::Error;
use crate::model::{Channel, Flag, MessageKind, Seconds, TextField, TimeField};

/// The platforms' messaging window after a contact's last interaction.
pub const WINDOW: Seconds = 24 * 3600;

/// The verdict on an audience.
#[derive(Clone, Debug, Default)]
pub struct Judgement {
    /// Members, the unknown included.
    pub audience: u64,
    pub excluded: Excluded,
    pub eligible: RoaringBitmap,
    /// LINE accounts whose quota is short: (account, left, needed). Without partial
    /// send, any such account refuses the broadcast.
    pub short: Vec<(String, u64, u64)>,
    /// Each LINE account of the eligible: (account, left, to send).
    pub line_quota: Vec<(String, Option<u64>, u64)>,
}

impl Judgement {
    /// The figures of a job starting with this verdict.
    pub fn figures(&self) -> crate::engine::Figures {
        crate::engine::Figures {
            audience: self.audience,
            eligible: self.eligible.len(),
            excluded: self.excluded,
            ..crate::engine::Figures::default()
        }
    }
}

/// What the judging depends on.
#[derive(Clone, Copy, Debug)]
pub struct Rules {
    pub kind: MessageKind,
    pub reply_window: bool,
    pub partial: bool,
    pub now: Seconds,
}

/// Judges the audience `rows` (plus `unknown` CSV identities) per `rules`.
pub fn judge(
    view: &View,
    rows: &RoaringBitmap,
    unknown: u64,
    rules: Rules,
) -> Result<Judgement, Error> {
    let store = view.store();
    let members = rows & store.live();
    let mut excluded = Excluded {
        unknown,
        ..Excluded::default()
    };
    // Each reason takes the members it applies to that no earlier reason took; the
    // union of what they took is subtracted once at the end (the members are often run
    // containers, which subtracting scattered rows one reason at a time would split
    // again and again).
    let mut taken = RoaringBitmap::new();
    let mut take = |applies: &RoaringBitmap| -> u64 {
        let hit = (&members & applies) - &taken;
        taken |= &hit;
        hit.len()
    };
    excluded.blocked = take(store.flag(Flag::Blocked));
    if let Some(kind) = rules.kind.opt_out() {
        excluded.opted_out = take(store.opt_out(kind));
    }
    if rules.kind.respects_over_quota() {
        excluded.over_quota = take(store.flag(Flag::OverQuota));
    }
    excluded.not_fb_sendable = take(&not_fb_sendable(view, rules)?);
    excluded.outside_window = take(&outside_window(view, rules));
    excluded.no_email = take(&(store.channel(Channel::Web) - store.text_present(TextField::Email)));
    let mut judgement = Judgement {
        audience: rows.len() + unknown,
        ..Judgement::default()
    };
    for account in store.accounts().filter(|a| a.channel == Channel::Line) {
        let left = (&members & account.rows) - &taken;
        if left.is_empty() {
            continue;
        }
        // An account is limited once its quota has a total (plan or purchased set).
        let quota = (view.quotas().get(account.id))
            .filter(|q| q.total() > 0)
            .map(|q| q.remaining());
        judgement
            .line_quota
            .push((account.id.to_string(), quota, left.len()));
        let Some(remaining) = quota.filter(|&r| r < left.len()) else {
            continue;
        };
        judgement
            .short
            .push((account.id.to_string(), remaining, left.len()));
        if rules.partial {
            let cut = beyond_first(view, &left, remaining);
            excluded.line_quota += cut.len();
            taken |= &cut;
        }
    }
    judgement.excluded = excluded;
    judgement.eligible = members - taken;
    Ok(judgement)
}

/// Facebook contacts a marketing message without the reply window cannot reach: only a
/// recurring notification may, so the contact must be `fb_sendable` and hold a token.
fn not_fb_sendable(view: &View, rules: Rules) -> Result<RoaringBitmap, Error> {
    if !rules.kind.is_marketing() || rules.reply_window {
        return Ok(RoaringBitmap::new());
    }
    let store = view.store();
    let sendable = view.rows(&view.compile("is:fb_sendable", rules.now)?);
    let token = store.text_present(TextField::FbNotificationToken);
    Ok(store.channel(Channel::Facebook) - (sendable & token))
}

/// Contacts a message may reach only inside the 24-hour window, who are outside it:
/// Instagram marketing, and Facebook messages sent as replies.
fn outside_window(view: &View, rules: Rules) -> RoaringBitmap {
    let store = view.store();
    let mut bound = RoaringBitmap::new();
    if rules.kind.is_marketing() {
        bound |= store.channel(Channel::Instagram);
    }
    if rules.reply_window {
        bound |= store.channel(Channel::Facebook);
    }
    if bound.is_empty() {
        return bound;
    }
    let since = rules.now.saturating_sub(WINDOW);
    bound & store.time_outside(TimeField::CustomerInteractionAt, since, Seconds::MAX)
}

/// The members after the first `keep` in identity order (by external id, within one
/// account).
fn beyond_first(view: &View, members: &RoaringBitmap, keep: u64) -> RoaringBitmap {
    let store = view.store();
    let mut rows: Vec<u32> = members.iter().collect();
    rows.sort_by(|&a, &b| store.external_id(a).cmp(store.external_id(b)));
    rows.into_iter().skip(keep as usize).collect()
}
