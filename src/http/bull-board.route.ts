/**
 * /admin/queues: Bull Board (BullMQ's web UI) over the generations, webhooks and analytics queues,
 * for admins only. A browser navigation cannot send an Authorization header and we set no
 * cookies (no CSRF surface), so there are two doors:
 *
 * - /admin/queues/s/<token>/…: a link from the admin-only `bullBoardLink` mutation (the dashboard's
 *   Admin page). The token is HMAC-signed, bound to this purpose and expires after
 *   BULL_BOARD_LINK_TTL_SECONDS; Bull Board's page and its API calls all stay under that path
 *   (its base path is the mount point the request came in on), so the token rides along.
 * - /admin/queues/…: `Authorization: Bearer <admin key>` on every request (curl, scripts).
 *
 * Bull Board is an express app; it is mounted here for these paths only, the rest of the server
 * stays plain node:http.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { createBullBoard } from "@bull-board/api";
import type { BaseAdapter } from "@bull-board/api/baseAdapter";
import { ExpressAdapter } from "@bull-board/express";
import express from "express";
import { BULL_BOARD_TOKEN_PURPOSE, verifyToken } from "../common/signed-token";
import type { Caller } from "./auth";
import { sendJson } from "./http-utils";

export const BULL_BOARD_PATH = "/admin/queues";

/**
 * Bull Board renders its page with one fixed base path; ours is whichever door the request used
 * (`/admin/queues/s/<token>` or `/admin/queues`), so the page's own requests keep its token.
 */
class MountedExpressAdapter extends ExpressAdapter {
  override setEntryRoute(routeDef: Parameters<ExpressAdapter["setEntryRoute"]>[0]): ExpressAdapter {
    const uiConfig = () => (this as unknown as { uiConfig: Parameters<typeof routeDef.handler>[0]["uiConfig"] }).uiConfig;
    const view = (req: express.Request, res: express.Response) => {
      const { name, params } = routeDef.handler({ basePath: req.baseUrl || BULL_BOARD_PATH, uiConfig: uiConfig() });
      res.render(name, params);
    };
    for (const route of Array.isArray(routeDef.route) ? routeDef.route : [routeDef.route]) this.app[routeDef.method](route, view);
    return this;
  }
}

/** Its page loads only from here (its Google Fonts link is refused: offline installs work the same). */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'", // the loading placeholder and its components use inline styles
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'self'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

export interface BullBoardDeps {
  /** The Bearer key's caller (HTTP semantics: 429 past the unauthenticated budget, 503 when the store is down). */
  authenticate: (req: IncomingMessage) => Promise<Caller>;
  /** Signs the link tokens (the server's files secret, with a purpose of its own). */
  secret: string;
  /** The queues' adapters, opened on first use. */
  queues: () => { adapters: BaseAdapter[] };
}

export function bullBoardHandler(d: BullBoardDeps) {
  let app: express.Express | undefined;
  const board = () => {
    if (app) return app;
    const serverAdapter = new MountedExpressAdapter();
    serverAdapter.setBasePath(BULL_BOARD_PATH);
    createBullBoard({ queues: d.queues().adapters, serverAdapter, options: { uiConfig: { boardTitle: "Switchboard queues" } } });
    app = express();
    app.disable("x-powered-by");
    app.use(`${BULL_BOARD_PATH}/s/:token`, serverAdapter.getRouter());
    app.use(BULL_BOARD_PATH, serverAdapter.getRouter());
    return app;
  };

  const refuse = (res: ServerResponse, status: 401 | 403 | 404, code: string, message: string) =>
    sendJson(res, status, { errors: [{ message, extensions: { code } }] }, status === 401 ? { "www-authenticate": 'Bearer realm="switchboard"' } : {});

  /** Returns false when the path is not Bull Board's. */
  return async (pathname: string, req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    if (pathname !== BULL_BOARD_PATH && !pathname.startsWith(`${BULL_BOARD_PATH}/`)) return false;
    res.setHeader("cache-control", "no-store");
    res.setHeader("referrer-policy", "no-referrer"); // the token is in the URL: never send it on
    if (pathname.startsWith(`${BULL_BOARD_PATH}/s/`)) {
      const token = decodeURIComponent(pathname.slice(`${BULL_BOARD_PATH}/s/`.length).split("/")[0] ?? "");
      if (!verifyToken(d.secret, BULL_BOARD_TOKEN_PURPOSE, token)) {
        refuse(res, 401, "UNAUTHENTICATED", "This Bull Board link is invalid or has expired: get a new one (bullBoardLink, the dashboard's Admin page)");
        return true;
      }
    } else {
      const caller = await d.authenticate(req);
      if (!caller.auth) {
        refuse(res, 401, "UNAUTHENTICATED", "Bull Board needs an admin API key (Authorization: Bearer …) or a link from the bullBoardLink mutation");
        return true;
      }
      if (caller.auth.user.role !== "ADMIN") {
        refuse(res, 403, "FORBIDDEN", "Only admins can open Bull Board");
        return true;
      }
    }
    res.setHeader("content-security-policy", CSP);
    await new Promise<void>((resolve, reject) => {
      res.once("finish", resolve);
      res.once("close", resolve);
      board()(req as express.Request, res as express.Response, (err?: unknown) => (err ? reject(err) : (refuse(res, 404, "NOT_FOUND", `Cannot ${req.method} ${pathname}`), resolve())));
    });
    return true;
  };
}
