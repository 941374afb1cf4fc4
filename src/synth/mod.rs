//! `reach gen`: a deterministic, realistic synthetic audience. All channels and fields,
//! Zipf-like tag popularity over 2,000 tags (CJK names included), recent-skewed times.
//! Contacts are generated in fixed blocks, each from its own seed, so the output depends
//! only on (count, seed, anchor) and not on the number of threads.

mod rng;
mod segments;

use std::io::{self, Write};

use rayon::prelude::*;

use crate::csv::format_cell;
use crate::model::{
    Channel, Contact, FbFrequency, Field, Flag, OptOutKind, Seconds, TextField, TimeField,
};
use rng::Rng;
pub use segments::{SegmentGenerator, write_segments};

/// Contacts per independently seeded block.
const BLOCK: u64 = 1 << 14;
/// Number of distinct tags.
pub const TAG_COUNT: usize = 2_000;
const DAY: Seconds = 86_400;

/// The default anchor ("now" of the generated data): 2025-06-01T04:00:00Z.
pub const DEFAULT_ANCHOR: Seconds = 1_748_750_400;

/// Writes `count` contacts as CSV (all columns). `progress` is told how many are done.
pub fn write_csv(
    count: u64,
    seed: u64,
    anchor: Seconds,
    out: impl Write,
    progress: &dyn Fn(u64),
) -> io::Result<()> {
    let mut out = io::BufWriter::with_capacity(1 << 20, out);
    let header: Vec<&str> = Field::ALL.iter().map(|f| f.name()).collect();
    writeln!(out, "{}", header.join(","))?;
    let generator = Generator::new(anchor);
    let blocks = count.div_ceil(BLOCK);
    for group in (0..blocks).collect::<Vec<_>>().chunks(16) {
        let texts: Vec<Vec<u8>> = group
            .par_iter()
            .map(|&block| {
                let contacts = generator.block(seed, block, count);
                let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
                for c in &contacts {
                    let _ = w.write_record(Field::ALL.iter().map(|f| format_cell(c, *f)));
                }
                w.into_inner().unwrap_or_default()
            })
            .collect();
        for text in texts {
            out.write_all(&text)?;
        }
        progress(((group[group.len() - 1] + 1) * BLOCK).min(count));
        if crate::cancel::requested() {
            out.flush()?;
            return Err(crate::cancel::error());
        }
    }
    out.flush()
}

/// A store holding `contacts(count, seed, DEFAULT_ANCHOR)`, upserted at `now` (tests).
#[cfg(test)]
pub(crate) fn store(count: u64, seed: u64, now: Seconds) -> crate::store::Store {
    let mut store = crate::store::Store::new();
    let contacts = contacts(count, seed, DEFAULT_ANCHOR);
    let fields = crate::model::FieldSet::all();
    let change = crate::store::Change::Upsert { contacts, fields };
    store
        .apply(&change, now)
        .expect("generated contacts are valid");
    store
}

/// The contacts `write_csv` would write, as values.
pub fn contacts(count: u64, seed: u64, anchor: Seconds) -> Vec<Contact> {
    let generator = Generator::new(anchor);
    (0..count.div_ceil(BLOCK))
        .into_par_iter()
        .flat_map_iter(|block| generator.block(seed, block, count))
        .collect()
}

struct AccountSpec {
    channel: Channel,
    id: &'static str,
}

const ACCOUNTS: &[(AccountSpec, u32)] = &[
    (
        AccountSpec {
            channel: Channel::Line,
            id: "line-tw",
        },
        30,
    ),
    (
        AccountSpec {
            channel: Channel::Line,
            id: "line-hk",
        },
        10,
    ),
    (
        AccountSpec {
            channel: Channel::Line,
            id: "line-jp",
        },
        5,
    ),
    (
        AccountSpec {
            channel: Channel::Facebook,
            id: "fb-shop-tw",
        },
        13,
    ),
    (
        AccountSpec {
            channel: Channel::Facebook,
            id: "@brand-hk",
        },
        7,
    ),
    (
        AccountSpec {
            channel: Channel::Whatsapp,
            id: "+886223456789",
        },
        10,
    ),
    (
        AccountSpec {
            channel: Channel::Whatsapp,
            id: "+85230001234",
        },
        5,
    ),
    (
        AccountSpec {
            channel: Channel::Instagram,
            id: "@brand.tw",
        },
        10,
    ),
    (
        AccountSpec {
            channel: Channel::Web,
            id: "shop.example.com",
        },
        10,
    ),
];

const FIRST: &[&str] = &[
    "Alice", "Ben", "Chloe", "David", "Emma", "Frank", "Grace", "Henry", "Ivy", "Jack", "Kelly",
    "Leo", "Mia", "Nina", "Oscar", "Peggy", "Sunny", "Tina", "Vivian", "Wendy",
];
const LAST: &[&str] = &[
    "Chen", "Lin", "Huang", "Chang", "Lee", "Wang", "Wu", "Liu", "Tsai", "Yang", "Kuo", "Hsu",
];
const CJK_NAMES: &[&str] = &[
    "陳怡君",
    "林志明",
    "黃淑芬",
    "張家豪",
    "李美玲",
    "王小明",
    "吳佩珊",
    "劉建宏",
    "蔡依林",
    "楊雅婷",
    "佐藤花子",
    "김민준",
    "🌸 小花",
];
const BASE_TAGS: &[&str] = &[
    "vip",
    "gold",
    "silver",
    "churned",
    "會員",
    "雙11 會員",
    "newsletter",
    "VIP, 2024",
    "7\" tablet",
    "R&D",
    "ns:vip",
    "interest-韓系",
    "問卷 已填",
    "回購客",
];
const STORES: &[&str] = &[
    "taipei-101",
    "taipei-xinyi",
    "taichung-01",
    "kaohsiung-02",
    "tainan-03",
    "hk-central",
];

struct Generator {
    anchor: Seconds,
    tags: Vec<String>,
    /// Cumulative Zipf weights over `tags`.
    cumulative: Vec<f64>,
}

impl Generator {
    fn new(anchor: Seconds) -> Generator {
        let mut tags: Vec<String> = BASE_TAGS.iter().map(|t| t.to_string()).collect();
        let families = [
            "sku-",
            "coupon-",
            "utm_campaign_",
            "bot flow ",
            "survey-2024-q",
            "興趣-",
            "活動-",
        ];
        let mut i = 0usize;
        while tags.len() < TAG_COUNT {
            tags.push(format!("{}{}", families[i % families.len()], 1000 + i));
            i += 1;
        }
        let mut total = 0.0;
        let cumulative = (0..TAG_COUNT)
            .map(|k| {
                total += 1.0 / (k as f64 + 1.0).powf(0.9);
                total
            })
            .collect();
        Generator {
            anchor,
            tags,
            cumulative,
        }
    }

    fn block(&self, seed: u64, block: u64, count: u64) -> Vec<Contact> {
        let mut rng = Rng::new(seed ^ block.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let start = block * BLOCK;
        (start..(start + BLOCK).min(count))
            .map(|i| self.contact(&mut rng, i))
            .collect()
    }

    fn zipf_tag(&self, rng: &mut Rng) -> &str {
        let total = self.cumulative[TAG_COUNT - 1];
        let x = rng.unit() * total;
        let k = self
            .cumulative
            .partition_point(|&c| c < x)
            .min(TAG_COUNT - 1);
        &self.tags[k]
    }

    /// A time `mean_days` ago on average (exponential), never after the anchor.
    fn recent(&self, rng: &mut Rng, mean_days: f64) -> Seconds {
        let days = -rng.unit().max(1e-12).ln() * mean_days;
        self.anchor - (days * DAY as f64) as Seconds - rng.below(DAY as u64) as Seconds
    }

    fn contact(&self, rng: &mut Rng, serial: u64) -> Contact {
        let weights: Vec<u32> = ACCOUNTS.iter().map(|(_, w)| *w).collect();
        let account = &ACCOUNTS[rng.weighted(&weights)].0;
        let channel = account.channel;
        let external_id = match channel {
            Channel::Line => format!("U{:032x}", rng.next() as u128 | ((serial as u128) << 64)),
            Channel::Facebook => format!(
                "{}",
                2_000_000_000_000_000 + serial * 7919 % 1_000_000_000_000_000
            ),
            Channel::Whatsapp => format!("+8869{:08}", serial % 100_000_000),
            Channel::Instagram => format!("{}", 17_840_000_000_000_000 + serial),
            Channel::Web => format!("m{serial:09}"),
        };
        let mut c = Contact::new(channel, account.id, &external_id);
        c.name = if rng.chance(0.3) {
            CJK_NAMES[rng.below(CJK_NAMES.len() as u64) as usize].to_string()
        } else {
            let first = FIRST[rng.below(FIRST.len() as u64) as usize];
            let last = LAST[rng.below(LAST.len() as u64) as usize];
            if rng.chance(0.2) {
                format!("{} {} ", first.to_lowercase(), last.to_lowercase())
            } else {
                format!("{first} {last}")
            }
        };
        if matches!(
            channel,
            Channel::Facebook | Channel::Line | Channel::Instagram
        ) && rng.chance(0.5)
        {
            c.avatar_url = format!("https://cdn.example.com/a/{:x}.jpg", rng.next() >> 16);
        }
        let tag_count = rng.below(5) + rng.below(5);
        let mut tags: Vec<String> = (0..tag_count)
            .map(|_| self.zipf_tag(rng).to_string())
            .collect();
        tags.sort();
        tags.dedup();
        c.tags = tags;
        self.fill_states(rng, &mut c);
        self.fill_times(rng, &mut c);
        self.fill_channel_fields(rng, &mut c, serial);
        c
    }

    fn fill_states(&self, rng: &mut Rng, c: &mut Contact) {
        c.flags[Flag::Blocked.index()] = rng.chance(0.06);
        c.flags[Flag::OverQuota.index()] = rng.chance(0.02);
        for (kind, p) in [
            (OptOutKind::Broadcast, 0.05),
            (OptOutKind::SiteMarketing, 0.03),
            (OptOutKind::Cart, 0.02),
        ] {
            if rng.chance(p) {
                c.opt_outs.insert(kind);
            }
        }
    }

    fn fill_times(&self, rng: &mut Rng, c: &mut Contact) {
        let joined =
            self.anchor - rng.below(4 * 365) as Seconds * DAY - rng.below(DAY as u64) as Seconds;
        c.times[TimeField::SubscribedAt.index()] = Some(joined);
        let later_than_join = |rng: &mut Rng, p: f64, mean: f64| {
            rng.chance(p).then(|| self.recent(rng, mean).max(joined))
        };
        c.times[TimeField::LastCheckoutAt.index()] = later_than_join(rng, 0.6, 150.0);
        c.times[TimeField::CustomerInteractionAt.index()] = later_than_join(rng, 0.95, 120.0);
        c.times[TimeField::TeamInteractionAt.index()] = later_than_join(rng, 0.3, 60.0);
        c.times[TimeField::TeamMarketingAt.index()] = later_than_join(rng, 0.7, 20.0);
    }

    fn fill_channel_fields(&self, rng: &mut Rng, c: &mut Contact, serial: u64) {
        let channel = c.channel;
        let text =
            |c: &mut Contact, field: TextField, value: String| c.texts[field.index()] = Some(value);
        if matches!(
            channel,
            Channel::Facebook | Channel::Line | Channel::Whatsapp
        ) {
            c.flags[Flag::Bound.index()] = rng.chance(0.2);
        }
        match channel {
            Channel::Facebook if rng.chance(0.4) => {
                c.flags[Flag::FbOptin.index()] = true;
                c.fb_frequency = Some(FbFrequency::ALL[rng.below(3) as usize]);
                c.times[TimeField::FbLastSentAt.index()] =
                    rng.chance(0.7).then(|| self.recent(rng, 20.0));
                c.times[TimeField::FbExpiresAt.index()] = rng
                    .chance(0.8)
                    .then(|| self.anchor + (rng.below(360) as Seconds - 90) * DAY);
                text(
                    c,
                    TextField::FbNotificationToken,
                    notification_token(serial),
                );
            }
            Channel::Line => c.flags[Flag::App91Bound.index()] = rng.chance(0.15),
            Channel::Whatsapp => text(c, TextField::Phone, c.external_id.clone()),
            Channel::Web => {
                if rng.chance(0.9) {
                    text(c, TextField::Email, format!("user{serial}@example.com"));
                }
                if rng.chance(0.5) {
                    text(
                        c,
                        TextField::Phone,
                        format!("+8869{:08}", (serial * 31) % 100_000_000),
                    );
                }
                if rng.chance(0.7) {
                    text(c, TextField::MemberId, format!("M{serial:08}"));
                }
            }
            _ => {}
        }
        if matches!(channel, Channel::Line | Channel::Whatsapp) && rng.chance(0.25) {
            text(
                c,
                TextField::Store,
                STORES[rng.below(STORES.len() as u64) as usize].to_string(),
            );
            text(c, TextField::Salesperson, format!("E{:03}", rng.below(200)));
        }
    }
}

/// The recurring-notification token Meta would have given contact `serial` at opt-in
/// (derived from the serial, so the random stream, and every other field, is as before).
fn notification_token(serial: u64) -> String {
    let uuid = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, &serial.to_le_bytes());
    format!("rn-{}", uuid.simple())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_valid() {
        let a = contacts(3_000, 7, DEFAULT_ANCHOR);
        let b = contacts(3_000, 7, DEFAULT_ANCHOR);
        assert_eq!(a, b);
        assert_ne!(a, contacts(3_000, 8, DEFAULT_ANCHOR));
        for c in &a {
            assert_eq!(c.validate(), Ok(()), "{c:?}");
        }
        for channel in Channel::ALL {
            assert!(a.iter().any(|c| c.channel == channel));
        }
        let mut ids: Vec<_> = a
            .iter()
            .map(|c| (c.channel, &c.account, &c.external_id))
            .collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), a.len(), "identities are unique");
    }
}
