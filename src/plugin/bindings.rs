//! The only `bindgen!` site: host-side bindings for the `transform` and `transform-raw` worlds
//! of `wit/` (`tidegate:plugin@0.1.0`).
//!
//! Generated code only; it must not contain logic. Imports are sync and trappable (a host
//! function may kill the guest), exports are async (calls run on fibers so epoch interruption
//! can yield and interrupt). The raw world reuses the typed world's import and type modules.

wasmtime::component::bindgen!({
    path: "wit",
    world: "transform",
    imports: { default: trappable },
    exports: { default: async },
});

/// Bindings of the `transform-raw` world.
pub mod raw {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "transform-raw",
        imports: { default: trappable },
        exports: { default: async },
        with: {
            "tidegate:plugin/types": super::tidegate::plugin::types,
            "tidegate:plugin/log": super::tidegate::plugin::log,
            "tidegate:plugin/kv": super::tidegate::plugin::kv,
        },
    });
}
