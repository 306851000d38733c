//! A valid WebAssembly component of a foreign world (`example:other/greeter`): the gateway must
//! refuse it as `UnknownWorld`.

wit_bindgen::generate!({ path: "wit", world: "greeter" });

struct Greeter;

impl Guest for Greeter {
    fn greet(name: String) -> String {
        format!("hello, {name}")
    }
}

export!(Greeter);
