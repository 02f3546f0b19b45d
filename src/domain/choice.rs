//! Closed sets of values a flag may take (`--report junit`, `--color never`), declared once.
//!
//! [`choice!`](crate::choice) defines the enum together with its spellings: the flag table
//! lists `T::NAMES` as the accepted values (so help and validation show exactly these), and
//! the typed options turn the validated text back into `T` with `T::from_name`. Adding a
//! value is one line; the table and the enum cannot drift apart.

/// Defines a `Copy` enum whose variants are spelled by string literals, with `NAMES`
/// (in declaration order, which is also help order), `name()` and `from_name()`.
#[macro_export]
macro_rules! choice {
    ($(#[$m:meta])* $vis:vis enum $name:ident { $($(#[$vm:meta])* $var:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        $vis enum $name { $($(#[$vm])* $var),+ }

        impl $name {
            /// Every spelling, in declaration order.
            pub const NAMES: &'static [&'static str] = &[$($s),+];

            /// The spelling on the command line and on the wire.
            pub fn name(self) -> &'static str {
                match self { $($name::$var => $s),+ }
            }

            /// The value spelled `s` exactly (case-sensitive), if any.
            pub fn from_name(s: &str) -> Option<$name> {
                match s { $($s => Some($name::$var),)+ _ => None }
            }
        }
    };
}

crate::choice! {
    /// `--runner-type`: the runner hardware.
    pub enum RunnerType { Default = "default", M4 = "m4", M1 = "m1", Gpu1 = "gpu1", Cpu1 = "cpu1" }
}

crate::choice! {
    /// `--orientation`: Android screen orientation in degrees.
    pub enum Orientation { Portrait = "0", Landscape = "90" }
}

crate::choice! {
    /// `--render-engine`: the Android emulator's software renderer.
    pub enum RenderEngine { Lavapipe = "lavapipe", Swiftshader = "swiftshader" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for n in RunnerType::NAMES {
            assert_eq!(RunnerType::from_name(n).map(RunnerType::name), Some(*n));
        }
        assert_eq!(Orientation::from_name("90"), Some(Orientation::Landscape));
        assert_eq!(RenderEngine::from_name("Lavapipe"), None, "case-sensitive");
    }
}
