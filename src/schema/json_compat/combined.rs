//! `allOf`/`anyOf`/`oneOf` against each other, and `not`: Confluent's `CombinedSchemaDiff` and
//! `NotSchemaDiff`.

use std::collections::VecDeque;

use super::engine::{Ctx, Diffs, extend_at, push};
use super::kind::Kind;
use super::model::{Crit, Node};

/// Two combined schemas: the criterion change, the branch count change, then a maximum
/// matching of writer branches to compatible reader branches.
pub(super) fn compare<'a>(
    ctx: &mut Ctx<'a>,
    (o_crit, o_subs): (Crit, &[Node<'a>]),
    (u_crit, u_subs): (Crit, &[Node<'a>]),
    out: &mut Diffs,
) {
    let single = |subs: &[Node<'_>]| subs.len() == 1;
    if o_crit != u_crit {
        let widened = u_crit == Crit::Any
            || (single(o_subs) && single(u_subs))
            || (single(o_subs) && u_crit == Crit::One)
            || (single(u_subs) && o_crit == Crit::All);
        if !widened {
            push(out, "", Kind::COMBINED_TYPE_CHANGED);
            return;
        }
        push(out, "", Kind::COMBINED_TYPE_EXTENDED);
    }

    let (o_len, u_len) = (o_subs.len(), u_subs.len());
    if o_len < u_len {
        let kind = match u_crit {
            Crit::All => Kind::PRODUCT_TYPE_EXTENDED,
            Crit::Any | Crit::One => Kind::SUM_TYPE_EXTENDED,
        };
        push(out, "", kind);
    } else if o_len > u_len {
        let kind = match o_crit {
            Crit::All => Kind::PRODUCT_TYPE_NARROWED,
            Crit::Any | Crit::One => Kind::SUM_TYPE_NARROWED,
        };
        push(out, "", kind);
    }

    // edges[i] = (reader branch, differences) for each reader branch writer branch i can
    // become compatibly.
    let mut edges: Vec<Vec<(usize, Diffs)>> = Vec::with_capacity(o_len);
    for (i, o_sub) in o_subs.iter().enumerate() {
        let prefix = format!("{}/{i}", o_crit.keyword());
        let mut row = Vec::new();
        for (j, u_sub) in u_subs.iter().enumerate() {
            let inner = ctx.compare(Some(*o_sub), Some(*u_sub));
            if ctx.compatible(&inner) {
                let mut at = Diffs::new();
                extend_at(&mut at, &prefix, inner);
                row.push((j, at));
            }
        }
        edges.push(row);
    }

    let matched = maximum_matching(&edges, u_len);
    let mut count = 0;
    for (row, choice) in edges.iter_mut().zip(matched) {
        let Some(j) = choice else { continue };
        count += 1;
        if let Some((_, diffs)) = row.iter_mut().find(|(k, _)| *k == j) {
            out.append(diffs);
        }
    }
    if count < o_len.min(u_len) {
        // No pairing covers the smaller side: some branch has no compatible counterpart.
        push(out, "", Kind::COMBINED_TYPE_SUBSCHEMAS_CHANGED);
    }
}

/// Maximum bipartite matching (augmenting paths found by BFS, so no recursion): for each
/// writer branch, the reader branch it is paired with.
fn maximum_matching(edges: &[Vec<(usize, Diffs)>], right: usize) -> Vec<Option<usize>> {
    let mut left_match: Vec<Option<usize>> = vec![None; edges.len()];
    let mut right_match: Vec<Option<usize>> = vec![None; right];
    for start in 0..edges.len() {
        // parent[j] = the left vertex through which right vertex j was reached.
        let mut parent: Vec<Option<usize>> = vec![None; right];
        let mut queue = VecDeque::from([start]);
        let mut free = None;
        'search: while let Some(i) = queue.pop_front() {
            for &(j, _) in edges.get(i).into_iter().flatten() {
                if parent.get(j).copied().flatten().is_some() {
                    continue;
                }
                if let Some(slot) = parent.get_mut(j) {
                    *slot = Some(i);
                }
                match right_match.get(j).copied().flatten() {
                    None => {
                        free = Some(j);
                        break 'search;
                    }
                    Some(next) => queue.push_back(next),
                }
            }
        }
        // Flip the path: each right vertex on it takes the left vertex that reached it.
        let mut cursor = free;
        while let Some(j) = cursor {
            let Some(i) = parent.get(j).copied().flatten() else {
                break;
            };
            cursor = left_match.get(i).copied().flatten();
            if let Some(slot) = left_match.get_mut(i) {
                *slot = Some(j);
            }
            if let Some(slot) = right_match.get_mut(j) {
                *slot = Some(i);
            }
        }
    }
    left_match
}

/// `not`: the reader's negated schema must accept everything the writer's does, so compare
/// them the other way round.
pub(super) fn compare_not<'a>(ctx: &mut Ctx<'a>, o: Node<'a>, u: Node<'a>, out: &mut Diffs) {
    let inner = ctx.compare(Some(u), Some(o));
    let kind = if ctx.compatible(&inner) {
        Kind::NOT_TYPE_NARROWED
    } else {
        Kind::NOT_TYPE_EXTENDED
    };
    push(out, "not", kind);
}
