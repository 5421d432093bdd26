//! Aligned text tables: a header row, then one row per item, columns
//! separated by at least two spaces; and the reading of them back.

use std::fmt;

/// A table to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// An empty table with these column names (one word each).
    pub fn new(header: &[&'static str]) -> Self {
        Self {
            header: header.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; an empty cell shows as `-`, missing cells too.
    pub fn push(&mut self, row: Vec<String>) {
        let mut row: Vec<String> = row
            .into_iter()
            .map(|c| if c.is_empty() { "-".to_owned() } else { c })
            .collect();
        row.resize(self.header.len(), "-".to_owned());
        self.rows.push(row);
    }

    /// Whether it has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

impl fmt::Display for Table {
    /// The header and the rows, each column as wide as its widest cell,
    /// two spaces between columns, no trailing spaces.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let widths: Vec<usize> = (0..self.header.len())
            .map(|i| {
                self.rows
                    .iter()
                    .map(|r| r[i].chars().count())
                    .chain([self.header[i].chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let header = self.header.iter().map(|h| (*h).to_owned());
        for row in std::iter::once(header.collect::<Vec<_>>()).chain(self.rows.iter().cloned()) {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                line.push_str(cell);
                let pad = widths[i].saturating_sub(cell.chars().count());
                line.extend(std::iter::repeat_n(' ', pad));
            }
            writeln!(f, "{}", line.trim_end())?;
        }
        Ok(())
    }
}

/// Reads a printed [`Table`] back: one list of `(column, cell)` pairs per
/// row. Lines before the first one that starts with `first_column` (the
/// header) are skipped, so is everything when there is none (an empty
/// listing prints a sentence instead). A `-` cell reads as empty.
pub fn parse(text: &str, first_column: &str) -> Vec<Vec<(String, String)>> {
    let mut lines = text
        .lines()
        .skip_while(|l| l.split_whitespace().next() != Some(first_column));
    let Some(header) = lines.next() else {
        return Vec::new();
    };
    let header: Vec<char> = header.chars().collect();
    // A column starts where a name starts after the line's start or two
    // spaces.
    let starts: Vec<usize> = (0..header.len())
        .filter(|&i| header[i] != ' ' && (i == 0 || (i >= 2 && header[i - 2..i] == [' ', ' '])))
        .collect();
    let names: Vec<String> = starts
        .iter()
        .enumerate()
        .map(|(n, &s)| cell(&header, s, starts.get(n + 1).copied()))
        .collect();
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let line: Vec<char> = line.chars().collect();
            names
                .iter()
                .enumerate()
                .map(|(n, name)| {
                    let value = cell(&line, starts[n], starts.get(n + 1).copied());
                    let value = if value == "-" { String::new() } else { value };
                    (name.clone(), value)
                })
                .collect()
        })
        .collect()
}

/// The trimmed text of `line` from `start` to `end` (or its end).
fn cell(line: &[char], start: usize, end: Option<usize>) -> String {
    let end = end.unwrap_or(line.len()).min(line.len());
    line.get(start.min(end)..end)
        .unwrap_or_default()
        .iter()
        .collect::<String>()
        .trim()
        .to_owned()
}

/// The cell of `column` in a row [`parse`] read, if the table has it.
pub fn get<'a>(row: &'a [(String, String)], column: &str) -> Option<&'a str> {
    row.iter()
        .find(|(name, _)| name == column)
        .map(|(_, value)| value.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_reads_back_cell_by_cell() {
        let mut table = Table::new(&["NAME", "STATE", "MEMBERS"]);
        table.push(vec!["node-b".into(), "ready".into(), "a@x, b@y".into()]);
        table.push(vec!["a-much-longer-name".into(), String::new()]);
        let text = format!("some preamble\n{table}");
        assert_eq!(
            table.to_string(),
            "NAME                STATE  MEMBERS\n\
             node-b              ready  a@x, b@y\n\
             a-much-longer-name  -      -\n"
        );
        let rows = parse(&text, "NAME");
        assert_eq!(rows.len(), 2);
        assert_eq!(get(&rows[0], "MEMBERS"), Some("a@x, b@y"));
        assert_eq!(get(&rows[1], "NAME"), Some("a-much-longer-name"));
        assert_eq!(get(&rows[1], "STATE"), Some(""));
        assert!(parse("no peers on 127.0.0.1:4000\n", "NAME").is_empty());
    }
}
