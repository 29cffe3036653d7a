# One image for the API, the worker and the Klarna simulator (docker-compose.yml picks the command:
# `npm run api`, `npm run worker`, `npm run simulator`; TypeScript runs through tsx, no build step).
FROM node:20-slim

WORKDIR /app
# Dependencies first, for the layer cache. Dev dependencies included: tsx runs the sources.
# (The Temporal core bridge ships prebuilt glibc binaries: no compiler needed.)
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund && npm cache clean --force

COPY . .

USER node
ENV API_HOST=0.0.0.0
EXPOSE 3000 8090
CMD ["npm", "run", "api"]
