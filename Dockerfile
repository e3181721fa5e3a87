# syntax=docker/dockerfile:1
# LeadRelay: one image for intake, worker, ops (the `leadrelay` CLI) and the demo webhook inbox.
#   docker build -t leadrelay .
#   docker run --rm -v "$PWD/leadrelay.yaml:/app/leadrelay.yaml:ro" leadrelay validate

# Pinned: a rebuild gets the same Node.
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

# Only the package manifests and the lockfile, so the `npm ci` layers below are rebuilt when
# dependencies change, not on every source edit.
FROM ${NODE_IMAGE} AS manifests
WORKDIR /src
COPY . .
RUN mkdir -p /manifests \
 && cp package.json package-lock.json /manifests/ \
 && for pkg in packages/*/package.json apps/*/package.json; do \
      mkdir -p "/manifests/$(dirname "$pkg")" && cp "$pkg" "/manifests/$pkg"; \
    done

FROM ${NODE_IMAGE} AS build
ENV TURBO_TELEMETRY_DISABLED=1 NEXT_TELEMETRY_DISABLED=1
WORKDIR /app
COPY --from=manifests /manifests ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build \
 # Stage what runs: manifests, compiled output, the CLI launcher and the default config.
 && mkdir -p /out \
 && cp package.json leadrelay.yaml leadrelay.schema.json /out/ \
 && for dir in packages/* apps/*; do \
      mkdir -p "/out/$dir" && cp -r "$dir/package.json" "$dir/dist" "/out/$dir/" \
      && if [ -d "$dir/bin" ]; then cp -r "$dir/bin" "/out/$dir/"; fi; \
    done

FROM ${NODE_IMAGE} AS runtime
# A small young generation keeps a busy worker's memory flat (V8 otherwise lets each semi-space grow
# to 16 MiB on a large host) for a few percent more CPU. `npm run bench` runs with these flags too.
ENV NODE_ENV=production LEADRELAY_CONFIG=/app/leadrelay.yaml NODE_OPTIONS="--max-semi-space-size=2"
WORKDIR /app
# Production dependencies only; workspace packages are linked from the manifests copied here.
COPY --from=manifests /manifests ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /out ./
# The image's own non-root user; the app writes nothing to disk.
USER node
# intake, ops, worker metrics, inbox
EXPOSE 8080 3000 9464 8081
ENTRYPOINT ["node", "apps/cli/bin/leadrelay.js"]
CMD ["start"]
