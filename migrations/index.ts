import { Initial1732370000000 } from "./1732370000000-initial";

/** Every migration, listed explicitly (TypeORM's glob loading breaks under vitest). */
export const migrations = [Initial1732370000000];
