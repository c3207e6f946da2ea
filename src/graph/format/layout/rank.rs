//! Which column and row each box stands in: columns by the longest chain
//! of calls that leads to a node (cycles cut where a depth-first search
//! finds them), rows by a few sweeps that move each node towards the mean
//! position of its neighbours. Every step is linear in nodes and links, or
//! a sort; ties go to the node's index, so the same graph gives the same
//! grid.

/// A node's cell: rows are shared by every column.
pub struct Grid {
    pub column: Vec<usize>,
    pub row: Vec<usize>,
    pub columns: usize,
    pub rows: usize,
}

/// Lists of `(node, link)` by node, built in one pass (compressed rows).
struct Adjacency {
    start: Vec<usize>,
    items: Vec<(usize, usize)>,
}

impl Adjacency {
    fn new(n: usize, pairs: impl Iterator<Item = (usize, usize, usize)> + Clone) -> Adjacency {
        let mut start = vec![0usize; n + 1];
        for (from, _, _) in pairs.clone() {
            start[from + 1] += 1;
        }
        for i in 0..n {
            start[i + 1] += start[i];
        }
        let mut fill = start.clone();
        let mut items = vec![(0, 0); start[n]];
        for (from, to, link) in pairs {
            items[fill[from]] = (to, link);
            fill[from] += 1;
        }
        Adjacency { start, items }
    }

    fn of(&self, node: usize) -> &[(usize, usize)] {
        &self.items[self.start[node]..self.start[node + 1]]
    }
}

/// The grid of `n` nodes joined by `links` (source, target), none a
/// self-loop.
pub fn grid(n: usize, links: &[(usize, usize)]) -> Grid {
    let column = columns(n, links);
    let columns = column.iter().max().map_or(0, |c| c + 1);
    let neighbours = Adjacency::new(
        n,
        (links.iter().enumerate()).flat_map(|(i, &(s, t))| [(s, t, i), (t, s, i)]),
    );
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); columns];
    for (v, &c) in column.iter().enumerate() {
        members[c].push(v);
    }
    let mut pos: Vec<f64> = vec![0.0; n];
    for list in &members {
        for (i, &v) in list.iter().enumerate() {
            pos[v] = i as f64;
        }
    }
    // Down, up, down: each column ordered by its neighbours on one side.
    for pass in 0..3 {
        let order: Vec<usize> = match pass % 2 {
            0 => (1..columns).collect(),
            _ => (0..columns.saturating_sub(1)).rev().collect(),
        };
        for c in order {
            let before = pass % 2 == 0;
            let keys: Vec<f64> = (members[c].iter())
                .map(|&v| {
                    let placed = (neighbours.of(v).iter())
                        .filter(|(w, _)| (column[*w] < c) == before && column[*w] != c);
                    mean(placed.map(|(w, _)| pos[*w])).unwrap_or(pos[v])
                })
                .collect();
            let mut ranked: Vec<(f64, usize)> = keys.into_iter().zip(members[c].clone()).collect();
            ranked.sort_by(|a, b| a.0.total_cmp(&b.0).then(pos[a.1].total_cmp(&pos[b.1])));
            members[c] = ranked.into_iter().map(|(_, v)| v).collect();
            for (i, &v) in members[c].iter().enumerate() {
                pos[v] = i as f64;
            }
        }
    }
    let row = rows(n, &members, &column, &neighbours);
    let rows = members.iter().map(Vec::len).max().unwrap_or(0);
    Grid {
        column,
        row,
        columns,
        rows,
    }
}

fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, count) = values.fold((0.0, 0usize), |(s, c), v| (s + v, c + 1));
    (count > 0).then(|| sum / count as f64)
}

/// Each node's column: the longest chain of calls leading to it, once the
/// links a depth-first search (in node order) finds closing a cycle are
/// turned round.
fn columns(n: usize, links: &[(usize, usize)]) -> Vec<usize> {
    let out = Adjacency::new(n, (links.iter().enumerate()).map(|(i, &(s, t))| (s, t, i)));
    let mut turned = vec![false; links.len()];
    let mut state = vec![0u8; n]; // 0 new, 1 on the stack, 2 done
    let mut finished = Vec::with_capacity(n);
    let mut stack: Vec<(usize, usize)> = Vec::new();
    for root in 0..n {
        if state[root] != 0 {
            continue;
        }
        state[root] = 1;
        stack.push((root, 0));
        while let Some(top) = stack.last_mut() {
            let (v, next) = *top;
            match out.of(v).get(next) {
                Some(&(w, link)) => {
                    top.1 += 1;
                    match state[w] {
                        0 => {
                            state[w] = 1;
                            stack.push((w, 0));
                        }
                        1 => turned[link] = true,
                        _ => {}
                    }
                }
                None => {
                    state[v] = 2;
                    finished.push(v);
                    stack.pop();
                }
            }
        }
    }
    let dag = Adjacency::new(
        n,
        (links.iter().enumerate()).map(|(i, &(s, t))| match turned[i] {
            false => (s, t, i),
            true => (t, s, i),
        }),
    );
    let mut column = vec![0usize; n];
    // Reverse finishing order is a topological order of the turned graph.
    for &v in finished.iter().rev() {
        for &(w, _) in dag.of(v) {
            column[w] = column[w].max(column[v] + 1);
        }
    }
    column
}

/// Rows: the tallest column packs from the top; the others, outwards from
/// it, put each node at the mean row of its placed neighbours where that
/// is free, keeping their order and within the tallest column's rows.
fn rows(n: usize, members: &[Vec<usize>], column: &[usize], neighbours: &Adjacency) -> Vec<usize> {
    let mut row = vec![0usize; n];
    let mut placed = vec![false; n];
    let Some(tallest) = (0..members.len()).max_by_key(|&c| (members[c].len(), usize::MAX - c))
    else {
        return row;
    };
    let height = members[tallest].len();
    let order = std::iter::once(tallest)
        .chain(tallest + 1..members.len())
        .chain((0..tallest).rev());
    for c in order {
        let list = &members[c];
        let mut next = 0usize;
        for (i, &v) in list.iter().enumerate() {
            let wanted = mean(
                (neighbours.of(v).iter())
                    .filter(|(w, _)| placed[*w] && column[*w] != c)
                    .map(|(w, _)| row[*w] as f64),
            )
            .map_or(next, |m| m.round() as usize);
            let last = height - (list.len() - i);
            row[v] = wanted.max(next).min(last);
            next = row[v] + 1;
        }
        for &v in list {
            placed[v] = true;
        }
    }
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callers_stand_left_and_cycles_are_cut() {
        // 0 -> 1 -> 2 -> 1 (a cycle), 0 -> 2, 3 alone.
        let g = grid(4, &[(0, 1), (1, 2), (2, 1), (0, 2)]);
        assert!(g.column[0] < g.column[1] && g.column[1] < g.column[2]);
        assert_eq!(g.column[3], 0);
        // No two nodes share a cell.
        let mut cells: Vec<(usize, usize)> = (0..4).map(|v| (g.column[v], g.row[v])).collect();
        cells.sort();
        cells.dedup();
        assert_eq!(cells.len(), 4);
        assert!(g.row.iter().all(|&r| r < g.rows));
    }

    #[test]
    fn a_long_chain_is_no_trouble() {
        let links: Vec<(usize, usize)> = (0..100_000).map(|i| (i, i + 1)).collect();
        let g = grid(100_001, &links);
        assert_eq!(g.columns, 100_001);
        assert_eq!(g.rows, 1);
    }
}
