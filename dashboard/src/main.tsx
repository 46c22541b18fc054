import { render } from "preact";
import { App } from "./app";
import "./style.css";

const root = document.getElementById("app")!;
root.textContent = ""; // the "Loading…" placeholder
render(<App />, root);
