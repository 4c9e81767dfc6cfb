//! Roster's domain: what a group, a member and a token are, the rules they obey,
//! and the storage trait every backend implements. Nothing here knows about HTTP or SQL.

pub mod clock;
pub mod email;
pub mod events;
pub mod groups;
pub mod ids;
pub mod input;
pub mod listing;
pub mod logo;
pub mod model;
pub mod people;
pub mod permissions;
pub mod store;
pub mod timestamp;
pub mod token;
pub mod validation;
pub mod webhooks;

pub use clock::Clock;
pub use email::Email;
pub use groups::fold_case;
pub use ids::{AssetId, GroupId, OrgId, UserId};
pub use model::{Group, MemberStatus, OrgMember, Organization, Role, User};
pub use store::{Store, StoreError, StoreErrorKind, WriteError};
pub use timestamp::Timestamp;
pub use validation::ValidationErrors;
