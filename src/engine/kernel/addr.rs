//! Physical and virtual addresses as distinct types, so that the compiler catches one used
//! for the other where they meet: page tables (a root and the frames are physical, what
//! they translate is virtual), the kernel layout and the kernel address space.

use std::fmt;

/// A guest-physical address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PhysAddr(pub u64);

/// A virtual address (the kernel's or a process's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct VirtAddr(pub u64);

macro_rules! address {
    ($t:ident) => {
        impl $t {
            /// The address as a number.
            pub fn get(self) -> u64 {
                self.0
            }

            /// `self + n`, wrapping as the hardware does.
            pub fn wrapping_add(self, n: u64) -> $t {
                $t(self.0.wrapping_add(n))
            }

            /// `self + n`, or `None` on overflow.
            pub fn checked_add(self, n: u64) -> Option<$t> {
                self.0.checked_add(n).map($t)
            }
        }

        impl fmt::LowerHex for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::LowerHex::fmt(&self.0, f)
            }
        }

        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:#x}", self.0)
            }
        }
    };
}

address!(PhysAddr);
address!(VirtAddr);
