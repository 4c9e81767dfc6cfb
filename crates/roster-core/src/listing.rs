//! Listings: filter, order and page, the same for groups, members and guests.

use crate::ValidationErrors;
use crate::fold_case;
use crate::validation::messages;

/// The orders a listing can take. Ties always break on the row's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortField {
    Name,
    Email,
    CreatedAt,
    UpdatedAt,
}

impl SortField {
    fn parse(raw: &str) -> Option<Self> {
        match raw {
            "name" => Some(Self::Name),
            "email" => Some(Self::Email),
            "created_at" => Some(Self::CreatedAt),
            "updated_at" | "last_updated" => Some(Self::UpdatedAt),
            _ => None,
        }
    }
}

pub const DEFAULT_PER_PAGE: u64 = 10;
pub const MAX_PER_PAGE: u64 = 100;
/// Pages starting within this many rows count as near the front (`is_shallow`).
pub const SHALLOW_OFFSET: u64 = 1000;
/// Keeps `(page - 1) * per_page` far from overflowing any backend's integer.
const MAX_PAGE: u64 = 1 << 40;

/// An integer query value, of any size (saturated far beyond any page or count);
/// `None` when it is not an integer.
pub fn parse_count(raw: &str) -> Option<i128> {
    let raw = raw.trim();
    let digits = raw.strip_prefix(['-', '+']).unwrap_or(raw);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // More digits than any i128 holds: saturate (only the sign matters past 10^30).
    Some(raw.parse::<i128>().unwrap_or(if raw.starts_with('-') { i128::MIN } else { i128::MAX }))
}

/// Tallyfy's page-size rule: above `max` is `max`, below 1 the default.
pub fn clamp_per_page(n: i128, default: u64, max: u64) -> u64 {
    if n > i128::from(max) {
        max
    } else if n >= 1 {
        n as u64
    } else {
        default
    }
}

/// A listing request: filter, order and page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListParams {
    /// Lowercased; matched as a substring of the lowercased name or description.
    pub q: Option<String>,
    pub sort: SortField,
    pub descending: bool,
    pub page: u64,
    pub per_page: u64,
    /// Every row at once (`users-list`, `guests-list`, `without_pagination`).
    pub unpaged: bool,
    /// Which groups a group listing holds: live ones (Tallyfy's listing), trashed ones,
    /// or both.
    pub trashed: Trashed,
}

/// `trashed=` on a group listing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Trashed {
    #[default]
    Without,
    Only,
    With,
}

impl Trashed {
    /// `without` (the default: live groups, as Tallyfy lists them), `only` or `with`;
    /// anything else, an empty value included, is refused.
    pub fn parse(raw: Option<&str>) -> Result<Self, String> {
        match raw {
            None | Some("without") => Ok(Self::Without),
            Some("only") => Ok(Self::Only),
            Some("with") => Ok(Self::With),
            Some(_) => Err("The selected trashed is invalid.".to_owned()),
        }
    }
}

impl Default for ListParams {
    fn default() -> Self {
        Self {
            q: None,
            sort: SortField::CreatedAt,
            descending: false,
            page: 1,
            per_page: DEFAULT_PER_PAGE,
            unpaged: false,
            trashed: Trashed::Without,
        }
    }
}

impl ListParams {
    /// Reads decoded query pairs; for a repeated key the last one wins, as in PHP.
    /// `sort_by`/`sort` may name only the `allowed` fields.
    ///
    /// `page` and `per_page` must be integers when given (422 otherwise), of any size:
    /// as in Tallyfy, a `per_page` above 100 becomes 100 and one below 1 the default, and
    /// a `page` below 1 is page 1. `sort_by` names the order (`-` prefix: descending);
    /// `sort` is a direction (`asc`, `desc`) or, without `sort_by`, an order itself; beside
    /// a `sort_by`, an order in `sort` gives way to it.
    pub fn parse<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
        allowed: &[SortField],
    ) -> Result<Self, ValidationErrors> {
        let mut params = Self::default();
        let mut sort_by = None;
        let mut sort = None;
        let mut nul_in_q = false;
        let mut errors = ValidationErrors::new();
        for (key, value) in pairs {
            match key {
                "q" => {
                    let q = value.trim();
                    params.q = (!q.is_empty()).then(|| fold_case(q));
                    nul_in_q = q.contains('\0');
                }
                "page" => match parse_count(value) {
                    Some(n) => params.page = n.clamp(1, MAX_PAGE as i128) as u64,
                    None => errors.add("page", messages::integer("page")),
                },
                "per_page" => match parse_count(value) {
                    Some(n) => params.per_page = clamp_per_page(n, DEFAULT_PER_PAGE, MAX_PER_PAGE),
                    None => errors.add("per_page", messages::integer("per_page")),
                },
                "sort_by" => sort_by = Some(value.trim()),
                "sort" => sort = Some(value.trim()),
                _ => {}
            }
        }
        if nul_in_q {
            errors.add("q", messages::no_nul("q"));
        }
        let mut field_from = |raw: &str, key: &str, attribute: &str| {
            let (descending, name) = match raw.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, raw),
            };
            match SortField::parse(name).filter(|f| allowed.contains(f)) {
                Some(field) => Some((field, descending)),
                None => {
                    errors.add(key, messages::invalid(attribute));
                    None
                }
            }
        };
        if let Some(raw) = sort_by
            && let Some((field, descending)) = field_from(raw, "sort_by", "sort by")
        {
            params.sort = field;
            params.descending = descending;
        }
        match sort.map(str::to_ascii_lowercase).as_deref() {
            None | Some("asc") => {}
            Some("desc") => params.descending = true,
            Some(raw) => {
                // Checked either way, so that a misspelt order is never silently ignored.
                let order = field_from(raw, "sort", "sort");
                if let (Some((field, descending)), None) = (order, sort_by) {
                    params.sort = field;
                    params.descending = descending;
                }
            }
        }
        errors.into_result(params)
    }

    pub fn offset(&self) -> u64 {
        (self.page - 1) * self.per_page
    }

    /// `max(1, ceil(total / per_page))`.
    pub fn total_pages(&self, total: u64) -> u64 {
        total.div_ceil(self.per_page).max(1)
    }

    /// Whether this page starts near enough to the front to be read forwards without
    /// knowing `total` first: walking up to `SHALLOW_OFFSET` rows costs less than the
    /// count and, on PostgreSQL, the transaction that deeper pages need.
    pub fn is_shallow(&self) -> bool {
        self.unpaged || self.offset() <= SHALLOW_OFFSET
    }

    /// Where this page's rows lie among `total` (counted in the same snapshot), read from
    /// whichever end of the order is nearer. A database walks every row an OFFSET skips,
    /// so the last page of 100,000 rows read forwards walks all of them; read backwards
    /// it is the first. The order always breaks ties on id, so both directions agree.
    pub fn window(&self, total: u64) -> Window {
        if self.unpaged {
            return Window { limit: None, offset: 0, reversed: false };
        }
        let offset = self.offset();
        let end = offset.saturating_add(self.per_page).min(total);
        let from_end = total - end;
        if offset < total && from_end < offset {
            Window { limit: Some(end - offset), offset: from_end, reversed: true }
        } else {
            Window { limit: Some(self.per_page), offset, reversed: false }
        }
    }
}

/// Rows to read for one page: `limit` rows after skipping `offset`, in the listing's
/// order, or (when `reversed`) in the opposite order, to be turned around after reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// `None`: every row.
    pub limit: Option<u64>,
    pub offset: u64,
    pub reversed: bool,
}

impl Window {
    /// Whether to read in descending order, for a listing that is `descending` or not.
    pub fn read_descending(&self, descending: bool) -> bool {
        descending != self.reversed
    }

    /// The rows as read, put in the listing's order.
    pub fn in_order<T>(&self, mut rows: Vec<T>) -> Vec<T> {
        if self.reversed {
            rows.reverse();
        }
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GROUPS: &[SortField] = crate::groups::SORT_FIELDS;

    #[test]
    fn list_params_defaults_and_clamps() -> Result<(), ValidationErrors> {
        assert_eq!(ListParams::parse([], GROUPS)?, ListParams::default());
        let p = ListParams::parse([("per_page", "500"), ("page", "0"), ("q", " Foo ")], GROUPS)?;
        assert_eq!((p.per_page, p.page, p.q.as_deref()), (100, 1, Some("foo")));
        assert_eq!(ListParams::parse([("per_page", "0")], GROUPS)?.per_page, 10);
        assert_eq!(
            ListParams::parse([("per_page", "abc")], GROUPS),
            Err(ValidationErrors::single("per_page", "The per page must be an integer."))
        );
        let huge = ListParams::parse(
            [
                ("per_page", "9223372036854775808"),
                ("page", "-99999999999999999999999999999999999999999"),
            ],
            GROUPS,
        )?;
        assert_eq!((huge.per_page, huge.page), (100, 1));
        // Beside a sort_by, an order in sort gives way to it; a misspelt one is refused.
        let p = ListParams::parse([("sort_by", "name"), ("sort", "-created_at")], GROUPS)?;
        assert_eq!((p.sort, p.descending), (SortField::Name, false));
        assert_eq!(
            ListParams::parse([("sort_by", "name"), ("sort", "nmae")], GROUPS),
            Err(ValidationErrors::single("sort", "The selected sort is invalid."))
        );
        let p = ListParams::parse([("sort_by", "-name")], GROUPS)?;
        assert_eq!((p.sort, p.descending), (SortField::Name, true));
        let p = ListParams::parse([("sort_by", "updated_at"), ("sort", "desc")], GROUPS)?;
        assert_eq!((p.sort, p.descending), (SortField::UpdatedAt, true));
        let p = ListParams::parse([("sort", "-name")], GROUPS)?;
        assert_eq!((p.sort, p.descending), (SortField::Name, true));
        assert_eq!(
            ListParams::parse([("sort_by", "email")], GROUPS),
            Err(ValidationErrors::single("sort_by", "The selected sort by is invalid."))
        );
        Ok(())
    }

    #[test]
    fn pages_past_the_middle_are_read_from_the_end() {
        let page = |page, per_page| ListParams { page, per_page, ..ListParams::default() };
        let forward = |limit, offset| Window { limit: Some(limit), offset, reversed: false };
        let backward = |limit, offset| Window { limit: Some(limit), offset, reversed: true };
        // 95 rows, 10 a page: pages 1..=5 forwards, 6..=10 backwards; page 10 holds 5 rows.
        assert_eq!(page(1, 10).window(95), forward(10, 0));
        assert_eq!(page(5, 10).window(95), forward(10, 40));
        assert_eq!(page(6, 10).window(95), backward(10, 35));
        assert_eq!(page(10, 10).window(95), backward(5, 0));
        // Past the end, and empty listings: nothing to read either way.
        assert_eq!(page(11, 10).window(95), forward(10, 100));
        assert_eq!(page(1, 10).window(0), forward(10, 0));
        let all = ListParams { unpaged: true, ..ListParams::default() };
        assert_eq!(all.window(95), Window { limit: None, offset: 0, reversed: false });
    }

    #[test]
    fn total_pages_is_at_least_one() {
        let p = ListParams::default();
        assert_eq!(p.total_pages(0), 1);
        assert_eq!(p.total_pages(10), 1);
        assert_eq!(p.total_pages(11), 2);
    }
}
