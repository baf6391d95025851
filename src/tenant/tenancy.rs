//! Whether a table's keys carry a tenant at all.

/// Whether keys carry a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tenancy {
    /// Every key starts with `[tenant]#`; an operation without a tenant fails closed.
    #[default]
    On,
    /// Keys carry no tenant part: one tenant per table.
    Off,
}
