//! Resource vectors in exact integer units: CPU in millicores, memory and ephemeral storage in bytes, extended
//! resources (`nvidia.com/gpu`, ...) in their integer units.

use super::Str;
use std::sync::LazyLock;

/// The one shared `nvidia.com/gpu` name: [`Resources::set_scalar`] stores it instead of an equal copy, so that
/// the filter loop's lookups of the GPU count match by pointer rather than by comparing strings.
static GPU_NAME: LazyLock<Str> = LazyLock::new(|| Str::from(super::gpu::GPU_RESOURCE));

fn intern(name: Str) -> Str {
    if *name == **GPU_NAME { GPU_NAME.clone() } else { name }
}

/// An amount of each resource. Extended ("scalar") resources are kept sorted by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    pub cpu_millis: i64,
    pub memory_bytes: i64,
    pub ephemeral_storage_bytes: i64,
    pub scalars: Vec<(Str, i64)>,
}

impl Resources {
    pub fn new(cpu_millis: i64, memory_bytes: i64) -> Resources {
        Resources { cpu_millis, memory_bytes, ..Resources::default() }
    }

    /// The amount of extended resource `name` (0 when absent).
    pub fn scalar(&self, name: &str) -> i64 {
        // The same (interned) name: no string comparison.
        for (n, a) in &self.scalars {
            if std::ptr::eq(n.as_ptr(), name.as_ptr()) && n.len() == name.len() {
                return *a;
            }
        }
        match self.scalars.binary_search_by(|(n, _)| (**n).cmp(name)) {
            Ok(i) => self.scalars[i].1,
            Err(_) => 0,
        }
    }

    /// Sets extended resource `name`, keeping the list sorted.
    pub fn set_scalar(&mut self, name: Str, amount: i64) {
        let name = intern(name);
        match self.scalars.binary_search_by(|(n, _)| (**n).cmp(&*name)) {
            Ok(i) => self.scalars[i].1 = amount,
            Err(i) => self.scalars.insert(i, (name, amount)),
        }
    }

    /// `self += other`. Allocates only when `other` has an extended resource `self` lacks.
    pub fn add(&mut self, other: &Resources) {
        self.cpu_millis += other.cpu_millis;
        self.memory_bytes += other.memory_bytes;
        self.ephemeral_storage_bytes += other.ephemeral_storage_bytes;
        for (name, amount) in &other.scalars {
            match self.scalars.binary_search_by(|(n, _)| n.cmp(name)) {
                Ok(i) => self.scalars[i].1 += amount,
                Err(i) => self.scalars.insert(i, (name.clone(), *amount)),
            }
        }
    }

    /// `self -= other`. Extended resources that drop to zero are kept (no allocation churn).
    pub fn sub(&mut self, other: &Resources) {
        self.cpu_millis -= other.cpu_millis;
        self.memory_bytes -= other.memory_bytes;
        self.ephemeral_storage_bytes -= other.ephemeral_storage_bytes;
        for (name, amount) in &other.scalars {
            match self.scalars.binary_search_by(|(n, _)| n.cmp(name)) {
                Ok(i) => self.scalars[i].1 -= amount,
                Err(i) => self.scalars.insert(i, (name.clone(), -*amount)),
            }
        }
    }

    /// Element-wise maximum (used for init containers: a pod needs the larger of its init and regular needs).
    pub fn max_with(&mut self, other: &Resources) {
        self.cpu_millis = self.cpu_millis.max(other.cpu_millis);
        self.memory_bytes = self.memory_bytes.max(other.memory_bytes);
        self.ephemeral_storage_bytes = self.ephemeral_storage_bytes.max(other.ephemeral_storage_bytes);
        for (name, amount) in &other.scalars {
            let cur = self.scalar(name);
            if *amount > cur {
                self.set_scalar(name.clone(), *amount);
            }
        }
    }

    /// True when every amount is zero.
    pub fn is_zero(&self) -> bool {
        self.cpu_millis == 0
            && self.memory_bytes == 0
            && self.ephemeral_storage_bytes == 0
            && self.scalars.iter().all(|(_, a)| *a == 0)
    }

    /// True when no amount is negative.
    pub fn is_non_negative(&self) -> bool {
        self.cpu_millis >= 0
            && self.memory_bytes >= 0
            && self.ephemeral_storage_bytes >= 0
            && self.scalars.iter().all(|(_, a)| *a >= 0)
    }

    /// True when `self <= capacity` in every resource (resources absent from `capacity` count as zero).
    pub fn fits_within(&self, capacity: &Resources) -> bool {
        self.cpu_millis <= capacity.cpu_millis
            && self.memory_bytes <= capacity.memory_bytes
            && self.ephemeral_storage_bytes <= capacity.ephemeral_storage_bytes
            && self.scalars.iter().all(|(n, a)| *a <= capacity.scalar(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::s;

    #[test]
    fn arithmetic_keeps_scalars_sorted() {
        let mut a = Resources::new(1000, 10);
        let mut b = Resources::new(500, 5);
        b.set_scalar(s("nvidia.com/gpu"), 2);
        b.set_scalar(s("example.com/foo"), 1);
        a.add(&b);
        assert_eq!(a.cpu_millis, 1500);
        assert_eq!(a.scalar("nvidia.com/gpu"), 2);
        assert_eq!(a.scalars[0].0.as_ref(), "example.com/foo");
        a.sub(&b);
        assert_eq!(a.scalar("nvidia.com/gpu"), 0);
        assert!(a.is_non_negative());
        let mut cap = Resources::new(1000, 10);
        assert!(a.fits_within(&cap));
        a.set_scalar(s("nvidia.com/gpu"), 1);
        assert!(!a.fits_within(&cap));
        cap.set_scalar(s("nvidia.com/gpu"), 1);
        assert!(a.fits_within(&cap));
    }
}
