//! What commands print: one JSON object per command with `--json`, else aligned tables and
//! short lines. Writes go through `writeln!` so a closed pipe is an error `main` can recognise,
//! not a panic.

use std::io::Write as _;

use serde_json::Value;

/// Prints `value` as one line of compact JSON.
pub fn json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

/// Prints lines of text.
pub fn lines<S: AsRef<str>>(lines: impl IntoIterator<Item = S>) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    for line in lines {
        writeln!(out, "{}", line.as_ref())?;
    }
    Ok(())
}

/// A plain-text table: a header row, then columns padded to their widest cell.
pub struct Table {
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column titles.
    pub fn new(header: &[&'static str]) -> Self {
        Self {
            header: header.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (cells beyond the header are ignored, missing ones are blank).
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The table as lines, or `empty` when there are no rows.
    pub fn render(&self, empty: &str) -> Vec<String> {
        if self.rows.is_empty() {
            return vec![empty.to_owned()];
        }
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |cells: Vec<&str>| -> String {
            let last = cells.len().saturating_sub(1);
            let mut s = String::new();
            for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
                s.push_str(cell);
                if i < last {
                    s.extend(std::iter::repeat_n(' ', w - cell.chars().count() + 2));
                }
            }
            s.trim_end().to_owned()
        };
        let mut out = vec![line(self.header.clone())];
        for row in &self.rows {
            let cells: Vec<&str> = (0..self.header.len())
                .map(|i| row.get(i).map_or("", String::as_str))
                .collect();
            out.push(line(cells));
        }
        out
    }

    /// Prints the table, or `empty` when there are no rows.
    pub fn print(&self, empty: &str) -> anyhow::Result<()> {
        lines(self.render(empty))
    }
}

/// A JSON field as table text: strings as they are, `null` or absent as `-`, arrays joined with
/// commas. Control characters are replaced, so a name cannot rewrite the terminal.
pub fn text(value: &Value) -> String {
    let s = match value {
        Value::Null => "-".to_owned(),
        Value::String(s) if s.is_empty() => "-".to_owned(),
        Value::String(s) => s.clone(),
        Value::Array(items) if items.is_empty() => "-".to_owned(),
        Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    };
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// A typed answer's field as table text, exactly as [`text`] prints its JSON form.
pub fn cell(value: &impl serde::Serialize) -> String {
    serde_json::to_value(value).map_or_else(|_| "-".to_owned(), |v| text(&v))
}

/// Unix milliseconds, if any, as `YYYY-MM-DD HH:MM:SSZ` (UTC), or `-`.
pub fn at(ms: impl Into<Option<i64>>) -> String {
    ms.into().map_or_else(|| "-".to_owned(), utc_from_millis)
}

/// Formats Unix milliseconds as UTC. Outside the range the date library holds (±9999 years,
/// which no Signet time reaches) the raw number is shown rather than a made-up date.
pub fn utc_from_millis(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(
        |_| format!("{ms} ms"),
        |t| t.strftime("%Y-%m-%d %H:%M:%SZ").to_string(),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use serde_json::json;

    use super::*;

    #[test]
    fn times_are_utc() {
        assert_eq!(utc_from_millis(0), "1970-01-01 00:00:00Z");
        assert_eq!(utc_from_millis(1_711_468_800_000), "2024-03-26 16:00:00Z");
        assert_eq!(utc_from_millis(951_782_400_000), "2000-02-29 00:00:00Z");
        assert_eq!(utc_from_millis(-1000), "1969-12-31 23:59:59Z");
        assert_eq!(at(None), "-");
    }

    #[test]
    fn tables_align_and_text_is_sanitised() {
        let mut t = Table::new(&["ID", "NAME"]);
        t.row(vec!["a".into(), "x".into()]);
        t.row(vec!["longer".into(), "y".into()]);
        assert_eq!(t.render("none"), ["ID      NAME", "a       x", "longer  y"]);
        assert_eq!(Table::new(&["ID"]).render("none"), ["none"]);
        assert_eq!(text(&json!("a\u{1b}[2Jb")), "a [2Jb");
        assert_eq!(text(&json!(["p1", "p2"])), "p1,p2");
        assert_eq!(text(&json!(3)), "3");
    }
}
