//! The only `bindgen!` site: host-side bindings for the `transform`, `transform-raw`,
//! `sink-connector` and `source-connector` worlds
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

/// Bindings of the `sink-connector` world.
pub mod sink {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "sink-connector",
        imports: { default: trappable },
        exports: { default: async },
        with: {
            "tidegate:plugin/types": super::tidegate::plugin::types,
            "tidegate:plugin/log": super::tidegate::plugin::log,
            "tidegate:plugin/kv": super::tidegate::plugin::kv,
        },
    });
}

/// Bindings of the `source-connector` world (shares the sink world's connector types and
/// validation export).
pub mod source {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "source-connector",
        imports: { default: trappable },
        exports: { default: async },
        with: {
            "tidegate:plugin/types": super::tidegate::plugin::types,
            "tidegate:plugin/log": super::tidegate::plugin::log,
            "tidegate:plugin/kv": super::tidegate::plugin::kv,
            "tidegate:plugin/connector-types": super::sink::tidegate::plugin::connector_types,
        },
    });
}
