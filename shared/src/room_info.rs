//! A room as clients see it: its info (the `room` frame, `GET
//! /api/rooms/{room}`), its members, and its entry in the directory.

use serde::{Deserialize, Serialize};

use crate::rooms::RoomRole;

/// A member as the room shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberInfo {
    pub name: String,
    pub role: RoomRole,
}

/// A room as its members see it (the `room` frame, `GET /api/rooms/{room}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RoomInfo {
    pub room: String,
    /// The display name; the room's name when none was set.
    pub title: String,
    pub topic: String,
    pub private: bool,
    /// A direct-message room: its people.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dm: Vec<String>,
    /// Every member, online or not (empty for an open room of protocol 1,
    /// which has no members, only people online).
    pub members: Vec<MemberInfo>,
    /// `false` for an open room of protocol 1 (no owner, anyone may post).
    pub governed: bool,
    /// The asker's role, if a member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<RoomRole>,
    /// Banned names, for moderators only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub banned: Vec<String>,
    /// Extension: read-only, nobody posts in it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub archived: bool,
    /// Extension: the room's own retention in days (0: the mesh's).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retention_days: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// A public room in the directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryEntry {
    pub room: String,
    pub title: String,
    pub topic: String,
    pub members: u64,
    /// `ts` of the room's latest message (0: none).
    pub last: u64,
}
