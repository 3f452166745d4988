# syntax=docker/dockerfile:1
# Two images from one build: `--target operator` (the default, last stage) and
# `--target sidecar`. Both run as a non-root user and need no writable root
# filesystem (only /tmp, mounted as an emptyDir by the chart).

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY Directory.Build.props Directory.Packages.props .editorconfig ./
COPY src/ src/
RUN dotnet publish src/VirtualKeys.Operator/VirtualKeys.Operator.csproj -c Release -o /out/operator --nologo \
 && dotnet publish src/VirtualKeys.Sidecar/VirtualKeys.Sidecar.csproj -c Release -o /out/sidecar --nologo

FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime-base
ENV DOTNET_RUNNING_IN_CONTAINER=true \
    DOTNET_EnableDiagnostics=0 \
    ASPNETCORE_HTTP_PORTS=
# 64198 is the UID/GID the Helm chart's securityContext expects.
RUN groupadd --system --gid 64198 vko && useradd --system --uid 64198 --gid vko --no-create-home vko
USER 64198:64198
WORKDIR /app

FROM runtime-base AS sidecar
COPY --from=build /out/sidecar/ /app/
# Loopback only: the sidecar hands provider credentials to whoever can reach it.
ENV Sidecar__ListenAddress=127.0.0.1 \
    Sidecar__Port=8090
EXPOSE 8090
ENTRYPOINT ["dotnet", "/app/VirtualKeys.Sidecar.dll"]

FROM runtime-base AS operator
COPY --from=build /out/operator/ /app/
EXPOSE 8080
ENTRYPOINT ["dotnet", "/app/VirtualKeys.Operator.dll"]
