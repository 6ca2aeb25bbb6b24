# syntax=docker/dockerfile:1
# Build a static binary, then ship it alone on distroless as a non-root user.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=devel
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/gatehouse ./cmd/gatehouse

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/gatehouse /gatehouse
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/gatehouse"]
CMD ["serve"]
HEALTHCHECK --interval=10s --timeout=5s --retries=5 CMD ["/gatehouse", "health"]
