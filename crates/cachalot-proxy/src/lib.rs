//! The data plane: POP listeners, viewer and origin state machines, tiers.
