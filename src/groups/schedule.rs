//! When a blocklist applies: weekly time windows in local time, written the
//! way Pi-hole and AdGuard schedules are, e.g.
//! `schedule = ["mon-fri 21:00-07:00", "sat,sun 22:00-08:00"]`.
//!
//! # Specification
//!
//! - A window is a day set, a space, then `HH:MM-HH:MM`. Spaces around it are
//!   ignored.
//! - Days are `mon tue wed thu fri sat sun`, in any case, separated by commas.
//!   A range `mon-fri` covers the days between; ranges may wrap (`fri-mon` is
//!   fri, sat, sun, mon). Repeating a day changes nothing. `daily`, `*` or no
//!   day part at all (`21:00-07:00`) means every day.
//! - Times are `HH:MM` from `00:00` to `23:59` (the hour may be one digit).
//!   `24:00` may only end a window; an end of `00:00` means the same.
//! - A window starts at `start` on each of its days and lasts until `end`.
//!   When `end` is not after `start` it crosses midnight and ends at `end` the
//!   next day: `fri 21:00-07:00` is active on Saturday at 06:30, and
//!   `mon-fri 21:00-07:00` is not active on Monday at 06:00, because Sunday
//!   starts no window.
//! - `start` equal to `end` is refused as ambiguous; a whole day is
//!   `00:00-24:00`, and days without times (`sat,sun`) mean just that.
//! - A schedule is a list of windows and is active when any of them is. An
//!   empty list means always active ([`Schedule::always`]).
//! - The caller gives the time as a weekday and a minute of the day; this
//!   module reads no clock and knows no time zone.
//!
//! Errors quote the window and say what was expected; no input panics.

use std::fmt;
use std::str::FromStr;

/// Minutes in a day; a window's `end` may equal it (`24:00`).
pub const MINUTES_PER_DAY: u16 = 1440;
const MINUTES_PER_WEEK: u32 = 7 * MINUTES_PER_DAY as u32;
const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// A day of the week, Monday first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Weekday {
    /// Monday.
    Mon,
    /// Tuesday.
    Tue,
    /// Wednesday.
    Wed,
    /// Thursday.
    Thu,
    /// Friday.
    Fri,
    /// Saturday.
    Sat,
    /// Sunday.
    Sun,
}

impl Weekday {
    /// Every day, Monday first.
    pub const ALL: [Weekday; 7] = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ];

    /// The day `n` days after Monday, for `n` in `0..7`.
    pub fn from_monday0(n: u8) -> Option<Self> {
        Self::ALL.get(usize::from(n)).copied()
    }

    /// Days after Monday: Monday is 0, Sunday 6.
    pub fn index(self) -> u8 {
        self as u8
    }

    /// The following day; Sunday is followed by Monday.
    pub fn next(self) -> Self {
        Self::ALL[usize::from((self.index() + 1) % 7)]
    }

    /// The three-letter lower-case name a schedule uses, e.g. `mon`.
    pub fn name(self) -> &'static str {
        DAY_NAMES[usize::from(self.index())]
    }
}

impl fmt::Display for Weekday {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a schedule window was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The window text is empty or only spaces.
    #[error("schedule window is empty (expected days and times, e.g. `mon-fri 21:00-07:00`)")]
    Empty,
    /// A day name is not one of the seven.
    #[error(
        "schedule window `{window}`: unknown day `{day}` (expected mon, tue, wed, thu, fri, sat, sun)"
    )]
    UnknownDay {
        /// The window as written.
        window: String,
        /// The word that is not a day.
        day: String,
    },
    /// A day list has an empty entry, as in `mon,,fri` or `mon-`.
    #[error(
        "schedule window `{window}`: a day is missing in `{days}` (expected e.g. `mon-fri` or `sat,sun`)"
    )]
    MissingDay {
        /// The window as written.
        window: String,
        /// The day part as written.
        days: String,
    },
    /// A time is not `HH:MM` within a day.
    #[error(
        "schedule window `{window}`: bad time `{time}` (expected HH:MM from 00:00 to 23:59, or 24:00 as an end)"
    )]
    BadTime {
        /// The window as written.
        window: String,
        /// The time as written.
        time: String,
    },
    /// The window starts at `24:00`.
    #[error(
        "schedule window `{window}`: `24:00` can only end a window (use `00:00` to start at midnight)"
    )]
    StartAt24 {
        /// The window as written.
        window: String,
    },
    /// The times have no `-` between start and end.
    #[error("schedule window `{window}`: missing `-` in `{times}` (expected HH:MM-HH:MM)")]
    MissingDash {
        /// The window as written.
        window: String,
        /// The times as written.
        times: String,
    },
    /// Words follow the times, or times come before the days.
    #[error(
        "schedule window `{window}`: unexpected `{extra}` (expected days, a space, then HH:MM-HH:MM)"
    )]
    ExtraWords {
        /// The window as written.
        window: String,
        /// The words that do not belong.
        extra: String,
    },
    /// Start and end are the same time.
    #[error(
        "schedule window `{window}`: start and end are both `{time}`, which is ambiguous (use `00:00-24:00` for a whole day)"
    )]
    SameStartAndEnd {
        /// The window as written.
        window: String,
        /// The time both ends name.
        time: String,
    },
    /// Encoded fields that make no window (see [`Window::new`]).
    #[error("schedule window (days {days:#09b}, start {start}, end {end} minutes): {reason}")]
    Invalid {
        /// The day bits given.
        days: u8,
        /// The start given, in minutes.
        start: u16,
        /// The end given, in minutes.
        end: u16,
        /// What is wrong with them.
        reason: &'static str,
    },
}

/// One weekly window: on each of `days`, from `start` until `end`, crossing
/// midnight into the next day when `end <= start`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// The days a window starts on: bit 0 is Monday, bit 6 Sunday.
    pub days: u8,
    /// Minute of the day the window starts, `0..1440`.
    pub start: u16,
    /// Minute of the day it ends (exclusive), `1..=1440`.
    pub end: u16,
}

impl Window {
    /// Day bits with every day set.
    pub const EVERY_DAY: u8 = 0x7f;

    /// A window from its encoded fields, checked: at least one day and no bits
    /// past Sunday, `start < 1440`, `1 <= end <= 1440`, `start != end`.
    pub fn new(days: u8, start: u16, end: u16) -> Result<Window, ScheduleError> {
        let reason = if days == 0 {
            "no days"
        } else if days & !Self::EVERY_DAY != 0 {
            "day bits past Sunday"
        } else if start >= MINUTES_PER_DAY {
            "start past 23:59"
        } else if end == 0 || end > MINUTES_PER_DAY {
            "end not within 00:01..24:00"
        } else if start == end {
            "start equals end"
        } else {
            return Ok(Window { days, start, end });
        };
        Err(ScheduleError::Invalid {
            days,
            start,
            end,
            reason,
        })
    }

    /// Whether the window covers `minute` of `day`. A minute past 1439 counts
    /// into the following days.
    pub fn is_active(&self, day: Weekday, minute: u16) -> bool {
        self.active_at(week_minute(day, minute))
    }

    /// Whether the window ends on the day after it starts.
    pub fn crosses_midnight(&self) -> bool {
        self.end <= self.start
    }

    fn starts_on(&self, day: u32) -> bool {
        (self.days >> (day % 7)) & 1 == 1
    }

    /// Whether the window covers minute `t` of the week (0 is Monday 00:00).
    fn active_at(&self, t: u32) -> bool {
        let (day, minute) = (t / 1440, t % 1440);
        let (start, end) = (u32::from(self.start), u32::from(self.end));
        if self.crosses_midnight() {
            (self.starts_on(day) && minute >= start) || (self.starts_on(day + 6) && minute < end)
        } else {
            self.starts_on(day) && minute >= start && minute < end
        }
    }
}

impl FromStr for Window {
    type Err = ScheduleError;

    fn from_str(text: &str) -> Result<Window, ScheduleError> {
        let window = text.trim();
        let words: Vec<&str> = window.split_whitespace().collect();
        let starts_with_digit = |word: &str| word.starts_with(|c: char| c.is_ascii_digit());
        let (days, times) = match words.as_slice() {
            [] => return Err(ScheduleError::Empty),
            [times] if starts_with_digit(times) => (Window::EVERY_DAY, Some(*times)),
            [days] => (parse_days(window, days)?, None),
            [times, rest @ ..] if starts_with_digit(times) => {
                return Err(extra_words(window, rest));
            }
            [days, times] => (parse_days(window, days)?, Some(*times)),
            [_, _, rest @ ..] => return Err(extra_words(window, rest)),
        };
        let Some(times) = times else {
            return Ok(Window {
                days,
                start: 0,
                end: MINUTES_PER_DAY,
            });
        };
        let Some((start_text, end_text)) = times.split_once('-') else {
            return Err(ScheduleError::MissingDash {
                window: window.into(),
                times: times.into(),
            });
        };
        let start = parse_time(window, start_text)?;
        let end = parse_time(window, end_text)?;
        if start == MINUTES_PER_DAY {
            return Err(ScheduleError::StartAt24 {
                window: window.into(),
            });
        }
        if start == end {
            return Err(ScheduleError::SameStartAndEnd {
                window: window.into(),
                time: start_text.into(),
            });
        }
        let end = if end == 0 { MINUTES_PER_DAY } else { end };
        Window::new(days, start, end)
    }
}

fn extra_words(window: &str, words: &[&str]) -> ScheduleError {
    ScheduleError::ExtraWords {
        window: window.into(),
        extra: words.join(" "),
    }
}

/// Day bits from a day part such as `mon-fri,sun`.
fn parse_days(window: &str, text: &str) -> Result<u8, ScheduleError> {
    let mut days = 0;
    for item in text.split(',') {
        days |= match item.split_once('-') {
            Some((first, last)) => {
                let (first, last) = (
                    parse_day(window, text, first)?,
                    parse_day(window, text, last)?,
                );
                (0..=(last + 7 - first) % 7).fold(0, |bits, n| bits | 1 << ((first + n) % 7))
            }
            None if item == "*" || item.eq_ignore_ascii_case("daily") => Window::EVERY_DAY,
            None => 1 << parse_day(window, text, item)?,
        };
    }
    Ok(days)
}

/// A day's index after Monday from its name.
fn parse_day(window: &str, days: &str, name: &str) -> Result<u8, ScheduleError> {
    if name.is_empty() {
        return Err(ScheduleError::MissingDay {
            window: window.into(),
            days: days.into(),
        });
    }
    (0..7)
        .find(|&n| DAY_NAMES[usize::from(n)].eq_ignore_ascii_case(name))
        .ok_or_else(|| ScheduleError::UnknownDay {
            window: window.into(),
            day: name.into(),
        })
}

/// Minutes since midnight from `H:MM` or `HH:MM`; `24:00` gives 1440.
fn parse_time(window: &str, text: &str) -> Result<u16, ScheduleError> {
    let bad = || ScheduleError::BadTime {
        window: window.into(),
        time: text.into(),
    };
    let (hours, minutes) = text.split_once(':').ok_or_else(bad)?;
    let (hours, minutes) = (
        digits(hours, 1..=2).ok_or_else(bad)?,
        digits(minutes, 2..=2).ok_or_else(bad)?,
    );
    match (hours, minutes) {
        (24, 0) => Ok(MINUTES_PER_DAY),
        (0..24, 0..60) => Ok(hours * 60 + minutes),
        _ => Err(bad()),
    }
}

/// The value of a run of ASCII digits whose length is in `lengths`.
fn digits(text: &str, lengths: std::ops::RangeInclusive<usize>) -> Option<u16> {
    if !lengths.contains(&text.len()) || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(
        text.bytes()
            .fold(0, |value, b| value * 10 + u16::from(b - b'0')),
    )
}

impl fmt::Display for Window {
    /// The canonical form, e.g. `mon-fri 21:00-07:00` or `daily 00:00-24:00`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_days(f, self.days)?;
        let (start, end) = (self.start, self.end);
        write!(
            f,
            " {:02}:{:02}-{:02}:{:02}",
            start / 60,
            start % 60,
            end / 60,
            end % 60
        )
    }
}

/// Day bits as runs from Monday: three or more days as a range, fewer
/// listed. A run through Sunday into Monday of three or more days is written
/// as one wrapping range (`fri-mon`).
fn write_days(f: &mut fmt::Formatter<'_>, days: u8) -> fmt::Result {
    if days & Window::EVERY_DAY == Window::EVERY_DAY {
        return f.write_str("daily");
    }
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for day in (0..7).filter(|&day| (days >> day) & 1 == 1) {
        match runs.last_mut() {
            Some((from, length)) if *from + *length == day => *length += 1,
            _ => runs.push((day, 1)),
        }
    }
    if let [(0, head), .., (from, tail)] = runs[..]
        && from + tail == 7
        && head + tail >= 3
    {
        runs.remove(0);
        if let Some(last) = runs.last_mut() {
            last.1 += head;
        }
    }
    for (n, &(from, length)) in runs.iter().enumerate() {
        let separator = if n == 0 { "" } else { "," };
        let (first, last) = (DAY_NAMES[from], DAY_NAMES[(from + length - 1) % 7]);
        match length {
            1 => write!(f, "{separator}{first}")?,
            2 => write!(f, "{separator}{first},{last}")?,
            _ => write!(f, "{separator}{first}-{last}")?,
        }
    }
    Ok(())
}

/// When a blocklist applies: active when any window is, or always when there
/// are no windows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Schedule {
    windows: Vec<Window>,
}

impl Schedule {
    /// A schedule from window texts; an empty list gives [`Schedule::always`].
    pub fn parse<S: AsRef<str>>(windows: &[S]) -> Result<Schedule, ScheduleError> {
        let windows = windows
            .iter()
            .map(|text| text.as_ref().parse())
            .collect::<Result<_, _>>()?;
        Ok(Schedule { windows })
    }

    /// The schedule that is always active: no windows.
    pub fn always() -> Schedule {
        Schedule::default()
    }

    /// Whether the schedule has no windows and so is always active.
    pub fn is_always(&self) -> bool {
        self.windows.is_empty()
    }

    /// The windows, as parsed or given.
    pub fn windows(&self) -> &[Window] {
        &self.windows
    }

    /// Whether the schedule applies at `minute` of `day`. A minute past 1439
    /// counts into the following days.
    pub fn is_active(&self, day: Weekday, minute: u16) -> bool {
        self.active_at(week_minute(day, minute))
    }

    fn active_at(&self, t: u32) -> bool {
        self.is_always() || self.windows.iter().any(|window| window.active_at(t))
    }
}

/// Minute of the week, Monday 00:00 being 0.
fn week_minute(day: Weekday, minute: u16) -> u32 {
    (u32::from(day.index()) * 1440 + u32::from(minute)) % MINUTES_PER_WEEK
}

#[cfg(test)]
mod tests {
    use super::Weekday::{Fri, Mon, Sat, Sun, Thu, Tue, Wed};
    use super::*;

    const fn at(hours: u16, minutes: u16) -> u16 {
        hours * 60 + minutes
    }

    fn window(text: &str) -> Window {
        text.parse().expect(text)
    }

    /// xorshift64: enough randomness for property tests without a crate.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }

        fn window(&mut self) -> Window {
            loop {
                let days = self.below(127) as u8 + 1;
                let start = self.below(1440) as u16;
                let end = self.below(1440) as u16 + 1;
                if let Ok(window) = Window::new(days, start, end) {
                    return window;
                }
            }
        }
    }

    #[test]
    fn each_form_parses_to_days_and_minutes() {
        let cases = [
            ("mon-fri 21:00-07:00", 0b001_1111, at(21, 0), at(7, 0)),
            ("sat,sun 22:00-08:00", 0b110_0000, at(22, 0), at(8, 0)),
            ("21:00-07:00", 0b111_1111, at(21, 0), at(7, 0)),
            ("daily 08:00-17:30", 0b111_1111, at(8, 0), at(17, 30)),
            ("* 08:00-17:30", 0b111_1111, at(8, 0), at(17, 30)),
            ("sat,sun", 0b110_0000, 0, 1440),
            ("  MON-Wed,Fri   7:05-9:00 ", 0b001_0111, at(7, 5), at(9, 0)),
            (
                "tue,tue,tue-tue 10:00-11:00",
                0b000_0010,
                at(10, 0),
                at(11, 0),
            ),
            ("sun 18:00-24:00", 0b100_0000, at(18, 0), 1440),
            ("sun 18:00-00:00", 0b100_0000, at(18, 0), 1440),
            ("mon 00:00-24:00", 0b000_0001, 0, 1440),
        ];
        for (text, days, start, end) in cases {
            assert_eq!(window(text), Window { days, start, end }, "{text}");
        }
    }

    #[test]
    fn a_day_range_may_wrap_past_sunday() {
        assert_eq!(window("fri-mon").days, 0b111_0001);
        assert_eq!(window("sun-tue").days, 0b100_0011);
        assert_eq!(window("thu-wed").days, 0b111_1111);
    }

    #[test]
    fn a_window_across_midnight_ends_the_next_day() {
        let friday_night = window("fri 21:00-07:00");
        assert!(friday_night.crosses_midnight());
        assert!(friday_night.is_active(Sat, at(6, 30)));
        assert!(!friday_night.is_active(Sat, at(7, 0)));
        assert!(!friday_night.is_active(Fri, at(6, 30)));
        assert!(friday_night.is_active(Fri, at(21, 0)));
    }

    #[test]
    fn weeknights_do_not_cover_monday_morning() {
        let weeknights = window("mon-fri 21:00-07:00");
        assert!(!weeknights.is_active(Mon, at(6, 0)));
        assert!(weeknights.is_active(Tue, at(6, 0)));
        assert!(weeknights.is_active(Sat, at(6, 59)));
        assert!(!weeknights.is_active(Sat, at(21, 0)));
    }

    #[test]
    fn sunday_night_carries_into_monday() {
        let sunday_night = window("sun 22:00-02:00");
        let cases = [
            (Sun, at(21, 59), false),
            (Sun, at(23, 59), true),
            (Mon, 0, true),
            (Mon, at(1, 59), true),
            (Mon, at(2, 0), false),
            (Sun, at(1, 0), false),
        ];
        for (day, minute, active) in cases {
            assert_eq!(
                sunday_night.is_active(day, minute),
                active,
                "{day} {minute}"
            );
        }
    }

    #[test]
    fn an_end_of_24_00_runs_to_midnight_and_no_further() {
        let evening = window("thu 18:00-24:00");
        assert!(!evening.crosses_midnight());
        assert!(evening.is_active(Thu, at(23, 59)));
        assert!(!evening.is_active(Fri, 0));
        assert!(!evening.is_active(Thu, at(17, 59)));
    }

    #[test]
    fn minutes_past_the_day_count_into_the_next_days() {
        let tuesday = window("tue");
        assert!(tuesday.is_active(Mon, 1440));
        assert!(!tuesday.is_active(Mon, 2880));
        assert!(window("mon").is_active(Sun, 1440));
    }

    #[test]
    fn every_error_names_the_text_and_what_is_expected() {
        let cases = [
            (
                "  ",
                "schedule window is empty (expected days and times, e.g. `mon-fri 21:00-07:00`)",
            ),
            (
                "mon-fry 21:00-07:00",
                "schedule window `mon-fry 21:00-07:00`: unknown day `fry` (expected mon, tue, wed, thu, fri, sat, sun)",
            ),
            (
                "mon,,fri 21:00-07:00",
                "schedule window `mon,,fri 21:00-07:00`: a day is missing in `mon,,fri` (expected e.g. `mon-fri` or `sat,sun`)",
            ),
            (
                "mon 25:00-07:00",
                "schedule window `mon 25:00-07:00`: bad time `25:00` (expected HH:MM from 00:00 to 23:59, or 24:00 as an end)",
            ),
            (
                "mon 21:00-7:5",
                "schedule window `mon 21:00-7:5`: bad time `7:5` (expected HH:MM from 00:00 to 23:59, or 24:00 as an end)",
            ),
            (
                "mon 24:00-07:00",
                "schedule window `mon 24:00-07:00`: `24:00` can only end a window (use `00:00` to start at midnight)",
            ),
            (
                "mon 21:00",
                "schedule window `mon 21:00`: missing `-` in `21:00` (expected HH:MM-HH:MM)",
            ),
            (
                "mon 21:00-07:00 please",
                "schedule window `mon 21:00-07:00 please`: unexpected `please` (expected days, a space, then HH:MM-HH:MM)",
            ),
            (
                "21:00-07:00 mon",
                "schedule window `21:00-07:00 mon`: unexpected `mon` (expected days, a space, then HH:MM-HH:MM)",
            ),
            (
                "mon 07:00-07:00",
                "schedule window `mon 07:00-07:00`: start and end are both `07:00`, which is ambiguous (use `00:00-24:00` for a whole day)",
            ),
        ];
        for (text, message) in cases {
            let error = text.parse::<Window>().expect_err(text);
            assert_eq!(error.to_string(), message);
        }
        let error = Schedule::parse(&["sat,sun", "mon 25:00-07:00"]).expect_err("bad time");
        assert!(matches!(error, ScheduleError::BadTime { .. }));
    }

    #[test]
    fn window_new_refuses_what_cannot_be_encoded() {
        let cases = [
            (0, 0, 60, "no days"),
            (0x80, 0, 60, "day bits past Sunday"),
            (1, 1440, 60, "start past 23:59"),
        ];
        let cases = cases.into_iter().chain([
            (1, 0, 0, "end not within 00:01..24:00"),
            (1, 0, 1441, "end not within 00:01..24:00"),
            (1, 60, 60, "start equals end"),
        ]);
        for (days, start, end, reason) in cases {
            let error = Window::new(days, start, end).expect_err(reason);
            assert!(error.to_string().ends_with(reason), "{error}");
        }
        assert_eq!(Window::new(1, 0, 1440), Ok(window("mon")));
    }

    #[test]
    fn an_empty_schedule_is_always_active() {
        let always = Schedule::parse::<&str>(&[]).expect("empty");
        assert!(always.is_always());
        assert_eq!(always, Schedule::always());
        assert!(always.is_active(Wed, 0));
        let all_week = Schedule::parse(&["mon-sun 00:00-24:00"]).expect("all week");
        assert!(!all_week.is_always());
        assert!(all_week.is_active(Sat, 100));
    }

    #[test]
    fn is_active_matches_a_minute_by_minute_walk() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..150 {
            let count = rng.below(4) as usize;
            let schedule = Schedule {
                windows: (0..count).map(|_| rng.window()).collect(),
            };
            let active = walked_minutes(&schedule);
            for t in 0..MINUTES_PER_WEEK {
                let (day, minute) = (Weekday::ALL[(t / 1440) as usize], (t % 1440) as u16);
                assert_eq!(
                    schedule.is_active(day, minute),
                    active[t as usize],
                    "{schedule:?} at {t}"
                );
            }
        }
    }

    /// The minutes of the week a schedule covers, marked by walking each
    /// window's minutes from each of its starts.
    fn walked_minutes(schedule: &Schedule) -> Vec<bool> {
        let mut active = vec![schedule.is_always(); MINUTES_PER_WEEK as usize];
        for window in schedule.windows() {
            let (start, end) = (u32::from(window.start), u32::from(window.end));
            let length = if end > start {
                end - start
            } else {
                1440 - start + end
            };
            for day in (0..7).filter(|day| window.days >> day & 1 == 1) {
                for k in 0..length {
                    active[((day * 1440 + start + k) % MINUTES_PER_WEEK) as usize] = true;
                }
            }
        }
        active
    }

    #[test]
    fn display_is_the_canonical_form() {
        let cases = [
            ("mon-fri 21:00-07:00", "mon-fri 21:00-07:00"),
            ("sun,sat", "sat,sun 00:00-24:00"),
            ("fri-mon 9:00-10:30", "fri-mon 09:00-10:30"),
            ("mon,wed,thu 01:00-02:00", "mon,wed,thu 01:00-02:00"),
            ("sun,mon,wed 01:00-02:00", "mon,wed,sun 01:00-02:00"),
            ("sat-mon,wed 01:00-02:00", "wed,sat-mon 01:00-02:00"),
            ("21:00-00:00", "daily 21:00-24:00"),
        ];
        for (text, canonical) in cases {
            assert_eq!(window(text).to_string(), canonical);
        }
    }

    #[test]
    fn display_parses_back_to_the_same_window() {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        for _ in 0..5000 {
            let original = rng.window();
            assert_eq!(window(&original.to_string()), original);
        }
    }

    #[test]
    fn garbage_never_panics() {
        let pieces = [
            "mon", "Fri", "sun", "daily", "*", ",", "-", "-", ":", " ", "\t", "0", "7", "24", "59",
            "99", "00:00", "24:00", "23:59", "é", "☃", "\u{0}", "x",
        ];
        let mut rng = Rng(0xdead_beef_cafe_f00d);
        for _ in 0..20_000 {
            let text: String = (0..rng.below(12))
                .map(|_| pieces[rng.below(pieces.len() as u64) as usize])
                .collect();
            if let Ok(parsed) = text.parse::<Window>() {
                assert_eq!(window(&parsed.to_string()), parsed, "{text:?}");
            }
            let raw = Window {
                days: rng.next() as u8,
                start: rng.next() as u16,
                end: rng.next() as u16,
            };
            let _ = (raw.to_string(), raw.is_active(Sun, rng.next() as u16));
            let _ = Schedule { windows: vec![raw] }.is_active(Mon, rng.next() as u16);
        }
    }

    #[test]
    fn weekdays_count_from_monday_and_wrap() {
        assert_eq!(Weekday::from_monday0(0), Some(Mon));
        assert_eq!(Weekday::from_monday0(6), Some(Sun));
        assert_eq!(Weekday::from_monday0(7), None);
        assert_eq!(Sun.next(), Mon);
        assert_eq!(Wed.index(), 2);
        assert_eq!(Fri.to_string(), "fri");
    }
}
