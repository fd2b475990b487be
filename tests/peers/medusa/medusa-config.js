// The Medusa 2 server the connector tests run against. Everything comes from the environment that
// tests/peers/medusa/server.py sets for each run: the database (a clone of a migrated template), the
// secrets and the folder for uploads. No Redis: cache, events, workflows and locking live in memory.
const os = require("os")
const path = require("path")
const { defineConfig, Modules } = require("@medusajs/framework/utils")

const required = (name) => {
  const value = process.env[name]
  if (!value) {
    throw new Error(`${name} must be set (tests/peers/medusa/server.py sets it)`)
  }
  return value
}

const cors = process.env.MEDUSA_CORS || "http://127.0.0.1"

module.exports = defineConfig({
  projectConfig: {
    databaseUrl: required("DATABASE_URL"),
    databaseLogging: false,
    workerMode: "shared",
    http: {
      storeCors: process.env.STORE_CORS || cors,
      adminCors: process.env.ADMIN_CORS || cors,
      authCors: process.env.AUTH_CORS || cors,
      jwtSecret: required("JWT_SECRET"),
      cookieSecret: required("COOKIE_SECRET"),
    },
  },
  admin: {
    disable: true,
  },
  modules: {
    [Modules.CACHE]: { resolve: "@medusajs/medusa/cache-inmemory" },
    [Modules.EVENT_BUS]: { resolve: "@medusajs/medusa/event-bus-local" },
    [Modules.WORKFLOW_ENGINE]: { resolve: "@medusajs/medusa/workflow-engine-inmemory" },
    [Modules.FILE]: {
      resolve: "@medusajs/medusa/file",
      options: {
        providers: [
          {
            resolve: "@medusajs/medusa/file-local",
            id: "local",
            options: {
              upload_dir:
                process.env.MEDUSA_UPLOAD_DIR || path.join(os.tmpdir(), "backoffice-medusa-uploads"),
            },
          },
        ],
      },
    },
  },
})
