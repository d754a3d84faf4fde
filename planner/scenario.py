"""Scenario files (DESIGN §4) and the technology catalogue: pydantic v2 schemas, loading and path resolution.

Defaults live here, once. Every model forbids unknown keys: a typo must not silently change a plan.
"""

from __future__ import annotations

import copy
import json
import re
import stat
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from planner.errors import InputError, Issue

TechnologyKind = Literal["fibre", "cellular", "microwave", "satellite"]
Anchor = Literal["fibre_node", "tower", "connected_office"]
SERVICES = ("mail", "e_commerce", "financial", "e_government")


def _numeric(annotation: Any) -> bool:
    """Whether a field's type is a number (int, float, or an optional / union of them)."""
    if annotation in (int, float):
        return True
    args = get_args(annotation)
    return bool(args) and any(a in (int, float) for a in args) and all(a in (int, float, type(None)) for a in args)


def check_services(names: Iterable[str]) -> None:
    """Every name must be a service the planner knows (``SERVICES``); a typo is an error, not a new service."""
    unknown = sorted(set(names) - set(SERVICES))
    if unknown:
        raise ValueError(f"unknown service(s) {unknown}; expected some of {list(SERVICES)}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    @model_validator(mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, data: Any) -> Any:
        """A YAML ``true`` where a number is expected is an error, not 1 (pydantic's lax mode would take it)."""
        if isinstance(data, dict):
            for name, field in cls.model_fields.items():
                if isinstance(data.get(name), bool) and _numeric(field.annotation):
                    raise ValueError(f"{name}: expected a number, got the boolean {str(data[name]).lower()}")
        return data


# --------------------------------------------------------------------------------------------- catalogue
SOURCE_ID = re.compile(r"^[a-z][a-z0-9_]*$")
ESTIMATE = "planner estimate"


class Source(_Strict):
    """A public document a catalogue figure comes from: who published it, what, when, and what it says."""

    publisher: str = Field(min_length=1, description="Organisation or outlet that published the document.")
    title: str = Field(min_length=1, description="Title of the document, page or dataset.")
    year: int | Literal["undated"] = Field(description="Year of publication (or 'undated').")
    version: str | None = Field(default=None, description="Edition, revision or commit read.")
    url: str | None = Field(default=None, description="Where it was read.")
    published: str | list[str] = Field(description="The figures exactly as the document states them, with units.")
    conversion: str | None = Field(default=None, description="Exchange rates (with date and source), conversions.")
    note: str | None = Field(default=None, description="Caveats.")
    accessed: str | None = Field(default=None, description="Date the document was read (YYYY-MM-DD).")


class Figure(_Strict):
    """A cost or performance figure with its public source and a low–high range (for sensitivity runs).

    A bare number is accepted where a figure is expected (a scenario override): its range collapses to it.
    """

    value: float = Field(ge=0, description="Central value used by the planner (unit given by the field name).")
    low: float = Field(ge=0, description="Low end of the published range (same unit).")
    high: float = Field(ge=0, description="High end of the published range (same unit).")
    source: str = Field(
        min_length=1,
        description="The id of a record in the catalogue's sources (publisher, title, year, the figure as "
        "published), or 'planner estimate: <how it was derived>'.",
    )
    published: str | None = Field(
        default=None,
        description="The figure exactly as the source states it (currency and unit), when it holds several.",
    )
    conversion: str | None = Field(
        default=None, description="How the published figure became this one: exchange rate and its date, period, unit."
    )
    note: str | None = Field(default=None, description="Where low and high come from, caveats.")
    distribution: Literal["triangular", "uniform", "fixed"] = Field(
        default="triangular",
        description="How Monte Carlo draws the figure within low-high: triangular (mode = value), uniform, or "
        "fixed (always value).",
    )

    @model_validator(mode="before")
    @classmethod
    def _from_number(cls, data: Any) -> Any:
        if isinstance(data, int | float) and not isinstance(data, bool):
            return {"value": data, "low": data, "high": data, "source": "scenario override"}
        return data

    @model_validator(mode="after")
    def _range(self) -> Figure:
        if not self.low <= self.value <= self.high:
            raise ValueError(f"expected low <= value <= high, got {self.low} <= {self.value} <= {self.high}")
        return self


def _zero() -> Figure:
    return Figure(value=0, low=0, high=0, source="not applicable")


class LineOfSight(_Strict):
    """What a radio hop must clear: a share of the first Fresnel zone above the terrain and the earth's bulge.

    At a point d1 km from one end and d2 km from the other of a hop D = d1 + d2 km long, at frequency f GHz:
    first Fresnel radius F1 = 17.32 · sqrt(d1 · d2 / (f · D)) m; earth bulge h = 1000 · d1 · d2 / (2 · k · R) m with
    R = 6,371 km and effective earth-radius factor k. The straight line between the antennas (ground + mast at each
    end) must pass at least ``fresnel_clearance`` · F1 above ground + bulge at every point of the profile.
    """

    frequency_ghz: float = Field(default=7.0, gt=0, le=100, description="Link frequency, GHz.")
    k_factor: float = Field(default=4 / 3, gt=0, description="Effective earth-radius factor k (4/3: standard air).")
    fresnel_clearance: float = Field(
        default=0.6, ge=0, le=2, description="Share of the first Fresnel zone that must be clear (0.6: 60 %)."
    )
    office_antenna_m: float = Field(default=10.0, ge=0, le=200, description="Antenna height at the office, m.")
    anchor_antenna_m: float = Field(
        default=30.0, ge=0, le=300, description="Antenna height at the far end (tower or fibre node), m."
    )
    step_m: float = Field(default=100.0, gt=0, description="Spacing of the profile's sample points, m.")
    max_candidates: int = Field(
        default=8, ge=1, le=64, description="Nearest backhauled anchors within reach tried, nearest first."
    )


class Reach(_Strict):
    """Where a technology can be used. Distances are great-circle km (fibre: times ``route_factor``)."""

    anchors: list[Anchor] = Field(
        default_factory=list,
        description="What the office must be near: fibre_node, tower (cellular/backhaul) or connected_office. "
        "Empty: available anywhere (satellite).",
    )
    max_distance_km: float | None = Field(
        default=None, gt=0, description="Maximum distance to the nearest anchor, km (route length for fibre)."
    )
    max_distance_km_range: tuple[float, float] | None = Field(
        default=None,
        description="Reach uncertainty for Monte Carlo: [low, high] km around max_distance_km, drawn triangular "
        "with mode max_distance_km. Plans use max_distance_km.",
    )
    route_factor: float = Field(default=1.0, ge=1.0, description="Route length / straight-line distance.")
    min_tower_generation: int | None = Field(
        default=None, ge=2, le=5, description="Towers of at least this generation count (e.g. 4 for 4G)."
    )
    use_tower_range: bool = Field(
        default=False, description="The office must lie inside the tower's own coverage radius `range_km`."
    )
    min_distance_km: float = Field(
        default=0.0,
        ge=0,
        description="Shortest link, km: a nearer anchor does not count (a radio hop of a few metres is a cable). "
        "The nearest anchor at least this far away is taken.",
    )
    backhauled_towers_only: bool = Field(
        default=False,
        description="A tower counts as an anchor only when it has backhaul to carry the link (towers' `backhaul` "
        "column; without it, towers of 4G or later are taken as backhauled).",
    )
    line_of_sight: LineOfSight | None = Field(
        default=None,
        description="Radio path clearance checked on the elevation raster (data.elevation) when one is given.",
    )

    @model_validator(mode="after")
    def _distance_range(self) -> Reach:
        if self.max_distance_km_range is not None:
            low, high = self.max_distance_km_range
            if self.max_distance_km is None or not 0 < low <= self.max_distance_km <= high:
                raise ValueError(
                    f"expected 0 < low <= max_distance_km <= high for max_distance_km_range, got "
                    f"{self.max_distance_km_range} around max_distance_km {self.max_distance_km}"
                )
        return self


class Availability(_Strict):
    """Whether a technology is on sale where the catalogue applies, as of a date, and who says so."""

    as_of: str = Field(min_length=1, description="Date of the last check (YYYY-MM or YYYY-MM-DD).")
    source: str = Field(min_length=1, description="A sources id, or a planner estimate saying how it is known.")
    note: str | None = Field(default=None, description="What the source says (licence, launch, waiting lists).")


class Tier(_Strict):
    """A service tier of a technology (e.g. LEO residential / business): its own price and speed.

    An office takes the first tier, in the listed order, that it may use: a tier is closed to an office that offers
    one of its ``not_for_services`` (a business service on a residential plan) or needs more Mbps than it delivers.
    """

    opex_per_year_usd: Figure = Field(description="Service fee of the tier, USD/year.")
    capex_fixed_usd: Figure | None = Field(
        default=None, description="Terminal of the tier, USD (default: the technology's)."
    )
    mbps: float | None = Field(
        default=None, gt=0, description="Capacity of the tier, Mbps (default: the technology's)."
    )
    not_for_services: list[str] = Field(
        default_factory=list, description="Services an office on this tier may not offer (e.g. financial)."
    )

    @model_validator(mode="after")
    def _known(self) -> Tier:
        check_services(self.not_for_services)
        return self


class Technology(_Strict):
    """One connection technology. Capex is paid once (USD), opex every year (USD/year)."""

    label: str = Field(description="Display name.")
    kind: TechnologyKind
    capex_fixed_usd: Figure = Field(description="Equipment and installation at the office, USD.")
    capex_civil_usd: Figure = Field(default_factory=_zero, description="Fixed civil works (mast, pole), USD.")
    capex_per_km_usd: Figure = Field(default_factory=_zero, description="Civil works per route km, USD/km.")
    licence_once_usd: Figure = Field(default_factory=_zero, description="One-off licence/spectrum fee, USD.")
    licence_per_year_usd: Figure = Field(default_factory=_zero, description="Annual licence fee, USD/year.")
    opex_per_year_usd: Figure = Field(description="Service fee / subscription paid by the post, USD/year.")
    opex_per_km_per_year_usd: Figure = Field(
        default_factory=_zero, description="Network upkeep paid by the operator, USD per route km per year."
    )
    power_draw_w: Figure = Field(
        default_factory=_zero, description="Average continuous electrical draw of the office terminal, W."
    )
    mbps: float = Field(gt=0, description="Capacity delivered to the office, Mbps.")
    latency_ms: float = Field(ge=0, description="Typical round-trip latency, ms.")
    lifetime_years: float = Field(gt=0, description="Economic lifetime of the equipment, years.")
    civil_lifetime_years: float | None = Field(
        default=None,
        gt=0,
        description="Life of the civil works (trench, mast) and of the one-off licence, years; default "
        "lifetime_years. Counts for the residual value (cost_basis tco_residual) and the annualised cost.",
    )
    capex_trend_per_year: float = Field(
        default=0.0,
        gt=-1,
        lt=1,
        description="Yearly change of capex (fraction, -0.10 = 10 % cheaper each year).",
    )
    reach: Reach = Field(default_factory=Reach)
    tiers: dict[str, Tier] = Field(
        default_factory=dict,
        description="Service tiers, cheapest first; an office takes the first it may use (Tier). Empty: the "
        "technology's own opex, capex and Mbps.",
    )
    available: bool = Field(
        default=True,
        description="Whether the technology is offered where this catalogue applies; false makes it ineligible "
        "(a scenario may set it true to ask 'what if').",
    )
    availability: Availability | None = Field(
        default=None, description="When and by whom availability was checked (required when available is false)."
    )


class PowerKit(_Strict):
    """Power for the office terminal: solar sized to its draw where there is no grid, electricity where there is.

    Off grid, a terminal drawing P W uses E = 24·P Wh a day; the kit has ``E / (peak_sun_hours·system_derate)``
    W of panels (``panel_usd_per_w``) and ``E·autonomy_days / depth_of_discharge`` Wh of battery
    (``battery_usd_per_kwh``), and costs ``solar_opex_share_per_year`` of its price every year (battery
    replacement, upkeep). On grid, the post pays ``8.76·P`` kWh a year at ``electricity_usd_per_kwh``.
    """

    panel_usd_per_w: Figure = Field(description="Installed solar, USD per W of panel.")
    battery_usd_per_kwh: Figure = Field(description="Battery storage, USD per kWh.")
    peak_sun_hours: Figure = Field(description="Design peak sun hours, hours per day.")
    autonomy_days: Figure = Field(description="Days the battery carries the terminal without sun.")
    depth_of_discharge: float = Field(default=0.5, gt=0, le=1, description="Usable share of the battery (0-1].")
    system_derate: float = Field(
        default=0.75, gt=0, le=1, description="Panel output reaching the load (losses, soiling, temperature), 0-1."
    )
    solar_opex_share_per_year: Figure = Field(
        description="Yearly upkeep and battery replacement of the solar kit, as a fraction of its price."
    )
    electricity_usd_per_kwh: Figure = Field(description="Grid electricity paid by on-grid offices, USD per kWh.")
    lifetime_years: float = Field(
        default=20.0,
        gt=0,
        description="Life of the solar kit, years (planner estimate: the 20-25-year output warranty usual for "
        "solar panels; batteries are replaced from the yearly upkeep). Residual value and annualised cost.",
    )

    def solar_kit_usd(self, draw_w: float) -> float:
        """Price of the solar kit (USD) that powers a terminal drawing ``draw_w`` W around the clock."""
        daily_wh = 24.0 * draw_w
        panel_w = daily_wh / (self.peak_sun_hours.value * self.system_derate)
        battery_kwh = daily_wh * self.autonomy_days.value / self.depth_of_discharge / 1000.0
        return panel_w * self.panel_usd_per_w.value + battery_kwh * self.battery_usd_per_kwh.value

    def electricity_usd_per_year(self, draw_w: float) -> float:
        """Yearly grid electricity (USD) of a terminal drawing ``draw_w`` W around the clock (8,760 h)."""
        return draw_w * 8.76 * self.electricity_usd_per_kwh.value


class TowerSite(_Strict):
    """A new 4G tower site (shared infrastructure): paid once, serves every office within its radius."""

    capex_usd: Figure = Field(description="Site build: mast, radio, power, backhaul, USD.")
    opex_per_year_usd: Figure = Field(description="Site upkeep (power, rent, backhaul), USD/year, operator-borne.")
    radius_km: float = Field(gt=0, description="Coverage radius of the new site, km.")
    technology: str = Field(default="cellular_4g", description="The catalogue technology offices use on it.")
    lifetime_years: float = Field(
        default=20.0,
        gt=0,
        description="Life of the site's mast and civil works, years (planner estimate: passive tower "
        "infrastructure outlives the 5-10-year radio equipment). Residual value and annualised cost.",
    )


class SecurityBaseline(_Strict):
    """The security an office handling money or citizens' data needs, and what a country needs once.

    Per office (own cost lines ``capex_security_usd`` and ``opex_security_usd_per_year`` in every output): a small
    security gateway (capex, replaced after ``firewall_lifetime_years``) and, each year, managed endpoint
    protection, protective DNS, mail on the national ``.post`` domain and staff training. Per country
    (reported in the plan's ``security`` section): setting up an incident-response capability (CSIRT) once, running
    it, and membership of an information-sharing community.
    """

    endpoint_protection_usd_per_year: Figure = Field(description="Managed endpoint protection, USD/year per office.")
    secure_dns_usd_per_year: Figure = Field(description="Protective DNS, USD/year per office.")
    post_domain_and_mail_usd_per_year: Figure = Field(description="Mail on the .post domain, USD/year per office.")
    training_usd_per_year: Figure = Field(description="Staff security-awareness training, USD/year per office.")
    firewall_capex_usd: Figure = Field(description="Small security gateway, USD per office, once.")
    firewall_lifetime_years: float = Field(
        default=5.0,
        gt=0,
        description="Life of the gateway, years (planner estimate: a small appliance's support life).",
    )
    incident_response_plan_usd: Figure = Field(description="Setting up an incident-response capability, USD, once.")
    incident_response_usd_per_year: Figure = Field(description="Running it, USD/year per country.")
    information_sharing_usd_per_year: Figure = Field(description="Information-sharing membership, USD/year.")
    information_sharing_one_off_usd: Figure = Field(description="Its one-off application fee, USD.")

    OFFICE_YEARLY: ClassVar[tuple[str, ...]] = (
        "endpoint_protection_usd_per_year", "secure_dns_usd_per_year", "post_domain_and_mail_usd_per_year",
        "training_usd_per_year",
    )  # fmt: skip

    def office_usd_per_year(self) -> float:
        """The recurring per-office lines (:attr:`OFFICE_YEARLY`), USD/year."""
        return sum(getattr(self, f).value for f in self.OFFICE_YEARLY)


class Region(_Strict):
    """A regional overlay: figures that differ in one country, merged over the global base catalogue.

    ``technologies`` and ``power`` hold field overrides in the catalogue's own shape (figures with their sources,
    ``available`` with its ``availability``); everything not named keeps the base figure.
    """

    label: str = Field(min_length=1, description="Country or region name.")
    technologies: dict[str, dict[str, Any]] = Field(default_factory=dict, description="Per-technology overrides.")
    power: dict[str, Any] = Field(default_factory=dict, description="Overrides of the power model.")
    tower_site: dict[str, Any] = Field(default_factory=dict, description="Overrides of the new tower site.")


class Catalogue(_Strict):
    """The technology catalogue: every figure carries its source and range."""

    sources: dict[str, Source] = Field(
        default_factory=dict, description="The documents the figures cite, by id (a figure's source)."
    )
    regions: dict[str, Region] = Field(
        default_factory=dict, description="Regional overlays by ISO 3166 alpha-3 code (catalogue_region)."
    )
    region: str | None = Field(default=None, description="The overlay applied to the figures, if any.")
    technologies: dict[str, Technology]
    power: PowerKit
    tower_site: TowerSite | None = Field(default=None, description="New tower sites (infrastructure.new_towers).")
    security: SecurityBaseline | None = Field(
        default=None, description="The security baseline (scenario security.required_for_services)."
    )

    @model_validator(mode="after")
    def _names(self) -> Catalogue:
        if not self.technologies:
            raise ValueError("the catalogue lists no technology")
        if "none" in self.technologies:
            raise ValueError("'none' is reserved for offices left unconnected")
        cited = {f.source for _, _, f in catalogue_figures(self)}
        cited |= {t.availability.source for t in self.technologies.values() if t.availability is not None}
        unknown = sorted({s for s in cited if SOURCE_ID.match(s)} - set(self.sources))
        if unknown:
            raise ValueError(f"figures cite sources that are not in the catalogue's sources: {unknown}")
        return self


# --------------------------------------------------------------------------------------------- scenario
class DataPaths(_Strict):
    """Input files; relative paths are resolved against the scenario file's folder."""

    offices: Path | None = Field(
        default=None,
        description="Offices: CSV, GeoJSON or GeoPackage (DESIGN §3). Required unless countries.files gives one "
        "offices file per country.",
    )
    fibre_nodes: Path | None = Field(default=None, description="Fibre points of presence: CSV node_id,lat,lon.")
    towers: Path | None = Field(default=None, description="Cell sites: CSV tower_id,lat,lon,generation,range_km.")
    roads: Path | None = Field(default=None, description="Road lines (GeoJSON), used by shared fibre design.")
    options: Path | None = Field(
        default=None,
        description="Engineering quotes: CSV office_id,technology,capex_usd,opex_usd_per_year[,mbps].",
    )
    coverage: Path | None = Field(
        default=None,
        description="Published cellular coverage: GeoJSON or GeoPackage (Multi)Polygons with a `technology` (a "
        "catalogue technology, or 2G/3G/4G/LTE/5G/NR) or `generation` (2-5) property, optional `operator` and "
        "`mbps`. See coverage.source.",
    )
    elevation: Path | None = Field(
        default=None,
        description="Elevation raster (GeoTIFF, metres above sea level, WGS 84 or any CRS rasterio reads) for "
        "microwave line of sight; needs the terrain extra (rasterio). Without it line of sight is not checked.",
    )


class Horizon(_Strict):
    """Planning horizon in calendar years, both ends included."""

    start_year: int = Field(default=2026, ge=2000, le=2100)
    end_year: int = Field(default=2030, ge=2000, le=2100)

    @model_validator(mode="after")
    def _order(self) -> Horizon:
        if self.end_year < self.start_year:
            raise ValueError(f"end_year {self.end_year} is before start_year {self.start_year}")
        return self

    @property
    def years(self) -> int:
        """Horizon length H in years (TCO counts H years of opex)."""
        return self.end_year - self.start_year + 1


class SolverSettings(_Strict):
    """HiGHS settings and the choice of method."""

    time_limit_s: float = Field(
        default=60.0,
        gt=0,
        le=604_800,
        allow_inf_nan=False,
        description="Wall-clock limit of the whole solve (heuristics, every HiGHS pass and the diagnosis of an "
        "infeasible scenario share it), seconds; at most one week (604800).",
    )
    mip_gap: float = Field(default=1e-4, ge=0, lt=1, description="Relative optimality gap accepted.")
    method: Literal["auto", "milp", "fast"] = Field(
        default="auto",
        description="auto: certified hull greedy when its proven gap meets mip_gap and there are no side "
        "constraints, else HiGHS warm-started from it; milp: always HiGHS; fast: greedy only (plain model).",
    )


class Policy(_Strict):
    """Policy rules (DESIGN §5)."""

    allowed_technologies: list[str] | None = Field(
        default=None, description="Technologies that may be funded; default all in the catalogue."
    )
    region_min_coverage: dict[str, Annotated[float, Field(ge=0, le=1)]] = Field(
        default_factory=dict,
        description="Minimum covered share of the metric per region (fraction); key '*' applies to every region.",
    )
    technology_max_share: dict[str, Annotated[float, Field(ge=0, le=1)]] = Field(
        default_factory=dict, description="Maximum share of the connected offices per technology (fraction)."
    )
    max_cost_per_office_usd: float | None = Field(
        default=None, gt=0, description="Options costing more than this (USD, budget basis) are not funded."
    )
    fibre_preference_pct: float | None = Field(
        default=None, ge=0, description="Choose fibre when its cost is within this % of the cheapest option."
    )
    opex_paid_by: Literal["operator", "post", "both"] = Field(
        default="both",
        description="Whose opex counts in TCO: service fees (post), network upkeep (operator).",
    )
    backup_link_for_services: list[str] = Field(
        default_factory=list,
        description="Offices offering any of these services (e.g. [financial]) are connected only with two "
        "independent links: a backup of another technology kind (fibre, cellular, microwave, satellite) that does "
        "not end at the same anchor. The backup's costs are added to the office's.",
    )

    @model_validator(mode="after")
    def _backup_services(self) -> Policy:
        bad = [s for s in self.backup_link_for_services if s not in SERVICES]
        if bad:
            raise ValueError(f"policy.backup_link_for_services: unknown service(s) {bad}; expected some of "
                             f"{list(SERVICES)}")  # fmt: skip
        return self


class CppDemand(_Strict):
    """ITU Connectivity Planning Platform demand: users = people × adoption × concurrency, Mbps per user.

    Source: ITU CPP user guide, "Models: demand analysis parameters" (2026; FNS Division, commit 3af749d,
    2026-08-21): ``N_users = P_radius × r_user × r_sim`` with P_radius the people within 1 km, r_user 0.25,
    r_sim 0.10, 2 Mbps per user, 20 Mbps floor. The planner counts the people an office serves (its
    ``population``) where CPP counts the people within 1 km of the site.
    """

    adoption: float = Field(default=0.25, ge=0, le=1, description="Share of people who use the service (CPP r_user).")
    concurrency: float = Field(
        default=0.10, ge=0, le=1, description="Share of users online at the same time (CPP r_sim)."
    )
    mbps_per_user: float = Field(default=2.0, ge=0, description="Mbps per simultaneous user (CPP).")
    floor_mbps: float = Field(default=20.0, ge=0, description="Minimum Mbps of any site (CPP).")


class GigaDemand(_Strict):
    """UNICEF Giga's school rule applied to post offices: Mbps per site, or per user above a size.

    Source: ITU/UNICEF Giga, WSIS Forum 2023 session 407: "a minimum connection speed target of 20 Mbps per
    school, or 50 kbps per student for schools larger than 400 students"; Giga open cost model country configs
    (2023), ``bandwidth_demand`` 20. The planner reads students as the people an office serves.
    """

    mbps_per_site: float = Field(default=20.0, ge=0, description="Mbps of every site (Giga), Mbps.")
    kbps_per_user: float = Field(default=50.0, ge=0, description="kbps per user for larger sites (Giga), kbps.")
    users_above: float = Field(
        default=400.0, ge=0, description="Sites serving more users than this need kbps_per_user each (Giga)."
    )


class Demand(_Strict):
    """Required bandwidth: an eligibility rule (an option below it is not offered)."""

    model: Literal["planner", "itu_cpp", "giga"] = Field(
        default="planner",
        description="planner: services' Mbps + Mbps per 1,000 people, at least floor_mbps; itu_cpp: ITU CPP users "
        "× Mbps per user (section itu_cpp); giga: Giga's per-site rule (section giga).",
    )
    itu_cpp: CppDemand = Field(default_factory=CppDemand, description="Parameters of the itu_cpp model.")
    giga: GigaDemand = Field(default_factory=GigaDemand, description="Parameters of the giga model.")
    service_mbps: dict[str, Annotated[float, Field(ge=0)]] = Field(
        default_factory=lambda: {"mail": 2.0, "e_commerce": 5.0, "financial": 3.0, "e_government": 10.0},
        description="Mbps each service needs, added up over the services an office offers.",
    )
    mbps_per_1000_people: float = Field(
        default=0.5,
        ge=0,
        description="Public-access Mbps per 1,000 people served, added to the services "
        "(model planner: planner estimate).",
    )
    floor_mbps: float = Field(default=5.0, ge=0, description="Minimum required Mbps for any office (model planner).")

    @model_validator(mode="after")
    def _known(self) -> Demand:
        check_services(self.service_mbps)
        return self


class SecurityRules(_Strict):
    """Which offices must have the catalogue's security baseline, and what is done with the country costs."""

    required_for_services: list[str] = Field(
        default_factory=lambda: ["financial", "e_government"],
        description="Offices offering any of these services get the per-office baseline in their costs (empty: none).",
    )
    country_costs: Literal["report", "none"] = Field(
        default="report",
        description="report: the per-country incident-response and information-sharing costs are listed in the "
        "plan (summary.security), outside the offices' budget; none: left out.",
    )

    @model_validator(mode="after")
    def _known(self) -> SecurityRules:
        bad = [s for s in self.required_for_services if s not in SERVICES]
        if bad:
            raise ValueError(f"unknown service(s) {bad}; expected some of {list(SERVICES)}")
        return self


class UnknownStatus(_Strict):
    """What planning does with offices whose connectivity is unknown (not surveyed, or the survey could not tell).

    Such offices are never taken as connected: ``plan`` plans them as unconnected; ``skip`` leaves them out of
    the plan (they are counted, and listed with technology ``none`` nowhere: the plan says how many were skipped);
    ``survey_cost`` plans them and adds a site survey to each of their options' capex.
    """

    action: Literal["plan", "skip", "survey_cost"] = "plan"
    survey_cost_usd: float = Field(
        default=150.0,
        ge=0,
        description="Site survey before building, USD per office of unknown status (survey_cost). Planner "
        "estimate: a technician's day visit with transport; no published figure.",
    )


class CoverageRules(_Strict):
    """Where cellular coverage comes from: published polygons (data.coverage), towers' radii, or either."""

    source: Literal["polygons", "towers", "either"] = Field(
        default="either",
        description="polygons: only data.coverage decides; towers: only the towers' coverage radii; either: an "
        "office inside a polygon or inside a tower's radius is covered (the polygon is named first).",
    )


class Infrastructure(_Strict):
    """Shared infrastructure (DESIGN §5): costs paid once and shared by the offices they serve."""

    shared_fibre: bool = Field(
        default=False,
        description="Fibre trenches are edges of a candidate graph, each paid once however many offices use it.",
    )
    candidate_graph: Literal["delaunay", "knn"] = Field(
        default="delaunay",
        description="Fibre candidate edges without roads: Delaunay triangulation or k nearest neighbours.",
    )
    knn: int = Field(default=4, ge=1, le=16, description="Neighbours per node for candidate_graph knn.")
    max_edge_km: float = Field(
        default=15.0, gt=0, description="Longest candidate trench segment between two nodes, straight-line km."
    )
    snap_km: float = Field(
        default=5.0, gt=0, description="Offices and fibre nodes farther than this from a road get no road link, km."
    )
    new_towers: bool = Field(
        default=False, description="Candidate new 4G sites at uncovered offices; a site is paid once (catalogue)."
    )
    radio_relays: bool = Field(
        default=False,
        description="Microwave whose far end is an office connected by fibre in the same plan, within hop range.",
    )
    method: Literal["auto", "exact", "heuristic"] = Field(
        default="auto",
        description="exact: one MILP with trench, site and relay variables; heuristic: plan with independent "
        "costs, then share trenches (Steiner tree) and re-spend the savings; auto: exact up to exact_max_arcs.",
    )
    exact_max_arcs: int = Field(
        default=60_000, ge=0, description="auto uses the exact model when the fibre graph has at most this many arcs."
    )

    @property
    def enabled(self) -> bool:
        """Any sharing asked for."""
        return self.shared_fibre or self.new_towers or self.radio_relays


class BuildCapacity(_Strict):
    """How many offices crews can connect per year."""

    total: int | None = Field(default=None, ge=0, description="Offices per year, all technologies together.")
    per_technology: dict[str, Annotated[int, Field(ge=0)]] = Field(
        default_factory=dict, description="Offices per year for a technology."
    )


class Roadmap(_Strict):
    """Year-by-year phasing from the start year to the end year (DESIGN §5, roadmap)."""

    annual_budget_usd: float | dict[int, Annotated[float, Field(ge=0)]] = Field(
        description="USD available each year: one figure for every year, or a mapping year -> USD covering "
        "every year of the horizon. Counts capex (and, with budget_basis tco, the opex of offices already "
        "connected) of that year."
    )
    carry_over: bool = Field(default=False, description="Unspent budget of a year is added to the next year's.")
    build_capacity: BuildCapacity = Field(default_factory=BuildCapacity)

    @model_validator(mode="after")
    def _non_negative(self) -> Roadmap:
        if isinstance(self.annual_budget_usd, float | int) and self.annual_budget_usd < 0:
            raise ValueError("annual_budget_usd must be >= 0")
        return self

    def budget_by_year(self, years: range) -> dict[int, float]:
        """USD per year of the horizon."""
        if isinstance(self.annual_budget_usd, dict):
            return {y: float(self.annual_budget_usd[y]) for y in years}
        return {y: float(self.annual_budget_usd) for y in years}


COUNTRY_KEY = r"^([A-Z]{3}|\*)$"  # ISO 3166 alpha-3, or '*' for every country not named


class Countries(_Strict):
    """Several countries in one scenario: the global plan (planner.countries, DESIGN §7).

    Money: ``countries.budgets`` gives each country its own budget (planned independently); without it the
    top-level ``budget_usd`` is one global pool shared by all countries, of which ``min_share`` reserves a
    fraction for a country (money only that country may spend; the rest goes where it buys most coverage).
    Policy rules (regional minimums, technology caps, the coverage metric) apply within each country.
    """

    budgets: dict[Annotated[str, Field(pattern=COUNTRY_KEY)], Annotated[float, Field(ge=0)]] = Field(
        default_factory=dict,
        description="Budget per country, USD on the budget basis (ISO 3166 alpha-3 -> USD; '*' every country not "
        "named). Each country is planned alone within its budget. Empty: one global pool (budget_usd).",
    )
    min_share: dict[Annotated[str, Field(pattern=COUNTRY_KEY)], Annotated[float, Field(ge=0, le=1)]] = Field(
        default_factory=dict,
        description="Share of the global pool reserved for a country (fraction of budget_usd; '*' every country "
        "not named): money only that country may spend. Needs the pool (budget_usd, no budgets).",
    )
    files: dict[Annotated[str, Field(pattern=r"^[A-Z]{3}$")], Path] = Field(
        default_factory=dict,
        description="One offices file per country (ISO 3166 alpha-3 -> path relative to the scenario); its offices "
        "belong to that country. Empty: the offices file's 'country' column (ISO alpha-3) says which.",
    )
    method: Literal["auto", "monolithic", "decomposition"] = Field(
        default="auto",
        description="Global pool: auto solves plain country models as one knapsack (hull greedy, then HiGHS if its "
        "gap is too wide) and prices the pool (Lagrangian decomposition) when countries carry side constraints "
        "or minimum shares; monolithic: one model of every country with the pool rows (HiGHS, small instances); "
        "decomposition: always price the pool.",
    )


class Scenario(_Strict):
    """A planning scenario (DESIGN §4)."""

    name: str = Field(min_length=1, description="Unique within a comparison.")
    description: str = ""
    data: DataPaths
    technologies: Literal["default"] | Path | dict[str, dict[str, Any]] = Field(
        default="default", description="'default', a catalogue YAML path, or per-technology field overrides."
    )
    catalogue_region: str | None = Field(
        default=None,
        pattern=r"^[A-Z]{3}$",
        description="Regional overlay of the catalogue (ISO 3166 alpha-3, e.g. IND, LKA, KEN) priced under the "
        "scenario's overrides, for every office; default: each office's country's overlay (the base where it has "
        "none).",
    )
    objective: Literal["max_coverage", "min_cost"] = "max_coverage"
    coverage_metric: Literal["population", "offices", "communities"] = "population"
    budget_usd: float | None = Field(default=None, ge=0, description="Budget, USD; required for max_coverage.")
    budget_basis: Literal["capex", "tco"] = Field(
        default="capex", description="What counts against the budget: capex, or TCO over the horizon."
    )
    cost_basis: Literal["tco", "tco_residual", "annualised"] = Field(
        default="tco",
        description="The economic cost that min_cost and every least-cost tie-break minimise, USD: tco (capex + "
        "discounted opex + replacements within the horizon), tco_residual (tco minus the discounted "
        "straight-line residual value at the horizon end of assets whose life runs past it) or annualised "
        "(equivalent annual cost over each asset's own life, discounted over the horizon).",
    )
    coverage_target: float | None = Field(
        default=None, gt=0, le=1, description="Share of the metric to cover; required for min_cost."
    )
    horizon: Horizon = Field(default_factory=Horizon)
    discount_rate: float = Field(default=0.08, ge=0, lt=1, description="Yearly discount rate for TCO (fraction).")
    solver: SolverSettings = Field(default_factory=SolverSettings)
    policy: Policy = Field(default_factory=Policy)
    demand: Demand = Field(default_factory=Demand)
    roadmap: Roadmap | None = Field(
        default=None, description="Phase the plan year by year under annual budgets and build capacity."
    )
    infrastructure: Infrastructure = Field(
        default_factory=Infrastructure, description="Shared fibre trenches, new tower sites and radio relays."
    )
    coverage: CoverageRules = Field(
        default_factory=CoverageRules, description="Which source of cellular coverage decides 4G eligibility."
    )
    security: SecurityRules = Field(
        default_factory=SecurityRules, description="The security baseline for offices handling money or citizens' data."
    )
    unknown_status: UnknownStatus = Field(
        default_factory=UnknownStatus, description="Offices of unknown connectivity: plan, skip, or survey first."
    )
    countries: Countries | None = Field(
        default=None, description="Several countries: per-country budgets, or one global pool (budget_usd)."
    )

    @model_validator(mode="after")
    def _countries_inputs(self) -> Scenario:
        if self.data.offices is None and not (self.countries and self.countries.files):
            raise ValueError("data.offices is required (or countries.files with one offices file per country)")
        c = self.countries
        if c is None:
            return self
        if c.files and self.data.offices is not None:
            raise ValueError("give either data.offices (with a country column) or countries.files, not both")
        if self.roadmap is not None:
            raise ValueError("a roadmap plans one country: remove the countries section or the roadmap")
        if self.objective == "min_cost" and (c.budgets or c.min_share or self.budget_usd is not None):
            raise ValueError("min_cost reaches the coverage target in each country at least cost: budget_usd, "
                             "countries.budgets and countries.min_share apply to max_coverage only")  # fmt: skip
        if c.budgets and self.budget_usd is not None:
            raise ValueError("give either budget_usd (one global pool) or countries.budgets (one per country)")
        if c.min_share and c.budgets:
            raise ValueError("countries.min_share reserves part of the global pool: it needs budget_usd, not budgets")
        named = sum(v for k, v in c.min_share.items() if k != "*")
        if named > 1 + 1e-12:
            raise ValueError(f"countries.min_share adds up to {named:.4g} of the pool (at most 1)")
        return self

    @model_validator(mode="after")
    def _backup_links(self) -> Scenario:
        if self.policy.backup_link_for_services and (self.roadmap is not None or self.infrastructure.enabled):
            raise ValueError(
                "policy.backup_link_for_services plans a primary and a backup link per office for a single period "
                "with stand-alone options: remove it, or the roadmap / shared infrastructure"
            )
        return self

    @model_validator(mode="after")
    def _ignored_keys(self) -> Scenario:
        if self.objective == "max_coverage" and self.coverage_target is not None:
            raise ValueError(
                "coverage_target is ignored by objective max_coverage (it maximises coverage within budget_usd): "
                "remove coverage_target, or set objective: min_cost to reach it at least cost"
            )
        return self

    @model_validator(mode="after")
    def _coverage_inputs(self) -> Scenario:
        if self.coverage.source == "polygons" and self.data.coverage is None:
            raise ValueError("coverage.source polygons needs data.coverage (a file of coverage polygons)")
        return self

    @model_validator(mode="after")
    def _objective_inputs(self) -> Scenario:
        per_country = self.countries is not None and bool(self.countries.budgets)
        if self.objective == "max_coverage" and self.budget_usd is None and self.roadmap is None and not per_country:
            raise ValueError("objective max_coverage needs budget_usd (or a roadmap with annual budgets)")
        if self.roadmap is not None and self.coverage_metric == "communities":
            raise ValueError(
                "a roadmap counts population-years or office-years: use coverage_metric population or offices"
            )
        if self.roadmap is not None and isinstance(self.roadmap.annual_budget_usd, dict):
            years = set(range(self.horizon.start_year, self.horizon.end_year + 1))
            given = set(self.roadmap.annual_budget_usd)
            if given != years:
                missing, extra = sorted(years - given), sorted(given - years)
                raise ValueError(
                    f"roadmap.annual_budget_usd must give every year {min(years)}-{max(years)}"
                    + (f"; missing {missing}" if missing else "")
                    + (f"; outside the horizon {extra}" if extra else "")
                )
        if self.roadmap is not None and self.cost_basis != "tco":
            raise ValueError(
                "a roadmap minimises its discounted cost (capex in the year built, opex from then on): "
                "cost_basis tco_residual and annualised apply to single-period plans; remove cost_basis"
            )
        if self.roadmap is not None and self.infrastructure.enabled:
            raise ValueError(
                "shared infrastructure is planned for a single period: remove either roadmap or infrastructure"
            )
        if self.objective == "min_cost" and self.coverage_target is None:
            raise ValueError("objective min_cost needs coverage_target")
        return self


# Scenario fields that only the solver reads: changing them re-solves an already costed instance
# (``planner.pipeline.prepare`` does not depend on them). Everything else re-costs.
SOLVE_ONLY_FIELDS: tuple[str, ...] = (
    "name", "description", "objective", "budget_usd", "coverage_target", "solver", "roadmap",
)  # fmt: skip
SOLVE_ONLY_POLICY_FIELDS: tuple[str, ...] = ("region_min_coverage", "technology_max_share")


def costing_fields(scenario: Scenario) -> dict[str, Any]:
    """The scenario as JSON data without its solve-only fields: what the costed options depend on."""
    raw = scenario.model_dump(mode="json")
    for key in SOLVE_ONLY_FIELDS:
        raw.pop(key, None)
    for key in SOLVE_ONLY_POLICY_FIELDS:
        raw["policy"].pop(key, None)
    return raw


# --------------------------------------------------------------------------------------------- loading
# libyaml's parser where PyYAML was built with it (its wheels are): the bundled 70 kB catalogue, read by every
# run, parses in 0.012 s instead of 0.12 s. Both are safe loaders: no arbitrary objects.
_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _UniqueKeyLoader(_SafeLoader):
    """YAML's safe loader that refuses duplicate keys: a key given twice in one mapping names both lines."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if key in seen:
                problem = f"duplicate key '{key}' (lines {seen[key]} and {line}): give it once"
                raise yaml.constructor.ConstructorError(None, None, problem, key_node.start_mark)
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


MAX_YAML_BYTES = 1_000_000  # a scenario or catalogue file: the bundled catalogue is about 70 kB
MAX_YAML_ALIASES = 20  # a handful of anchors is normal; the classic "billion laughs" bomb has 81


def _read_yaml(path: Path) -> Any:
    try:
        info = path.stat()
    except OSError:
        info = None
    if info is not None and not stat.S_ISREG(info.st_mode):
        raise InputError(Issue(str(path), None, None, "is not a regular file; expected a YAML file"))
    if info is not None and info.st_size > MAX_YAML_BYTES:
        raise InputError(Issue(str(path), None, None, f"is {info.st_size:,} bytes; a scenario file is at most "
                               f"{MAX_YAML_BYTES:,}"))  # fmt: skip
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(Issue(str(path), None, None, "file not found")) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(Issue(str(path), None, None, f"cannot read file: {exc}")) from None
    try:
        _refuse_alias_bombs(text)
        return yaml.load(text, Loader=_UniqueKeyLoader)  # a safe loader: no arbitrary objects
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        row = mark.line + 1 if mark is not None else None
        raise InputError(Issue(str(path), row, None, f"not valid YAML: {getattr(exc, 'problem', exc)}")) from None


def _refuse_alias_bombs(text: str) -> None:
    """Refuse more than :data:`MAX_YAML_ALIASES` aliases (``*name``): a 1 kB alias bomb expands to gigabytes.

    Counted on the parser's events, before any node is built (libyaml composes nodes in C, past any Python hook).
    """
    aliases = 0
    for event in yaml.parse(text, Loader=_SafeLoader):
        if isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_YAML_ALIASES:
                mark: Any = event.start_mark  # libyaml's Mark or PyYAML's: both give the line
                raise yaml.composer.ComposerError(None, None, f"more than {MAX_YAML_ALIASES} aliases: refused", mark)


def _issues_from(exc: ValidationError, file: str, prefix: str = "") -> list[Issue]:
    issues = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-"))
        key = f"{prefix}{loc}" if loc else prefix.rstrip(".") or None
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; see scenario.schema.json)"
        elif err["type"] == "missing":
            msg = "required key is missing"
        elif "input" in err and err["type"] not in ("model_type",):
            msg = f"{msg} (got {err['input']!r})"
        issues.append(Issue(file, None, key, msg))
    return issues


def default_catalogue_path() -> Path:
    """The bundled default technology catalogue."""
    return Path(str(resources.files("planner") / "technologies.yaml"))


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and "value" not in value:
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def apply_region(raw: dict[str, Any], region: str, file: str) -> dict[str, Any]:
    """The raw catalogue with its regional overlay ``region`` merged over the base figures."""
    regions = raw.get("regions") or {}
    if region not in regions:
        known = sorted(regions)
        raise InputError(Issue(file, None, "catalogue_region", f"no regional overlay '{region}'; known: {known}"))
    overlay = regions[region]
    out = copy.deepcopy(raw)
    for name, fields in (overlay.get("technologies") or {}).items():
        if name not in out["technologies"]:
            raise InputError(Issue(file, None, f"regions.{region}.technologies.{name}", "unknown technology"))
        out["technologies"][name] = _deep_merge(out["technologies"][name], fields)
    for part in ("power", "tower_site"):
        if overlay.get(part):
            out[part] = _deep_merge(out.get(part) or {}, overlay[part])
    out["region"] = region
    return out


def load_catalogue(
    spec: str | Path | dict[str, dict[str, Any]] = "default", base_dir: Path | None = None, region: str | None = None
) -> Catalogue:
    """Load the catalogue: ``default``, a YAML path, or overrides ``{technology: {field: value}}`` on the default.

    ``region``: the regional overlay (ISO3) merged over the base figures first; scenario overrides come last.
    An override naming a technology absent from the default adds it (then all its fields are required).
    """
    default_path = default_catalogue_path()
    raw = _read_yaml(default_path)
    file = str(default_path)
    if region is not None and not isinstance(spec, dict) and str(spec) != "default":
        path = Path(spec)
        raw = _read_yaml(path if path.is_absolute() or base_dir is None else base_dir / path)
        file = str(path)
        spec = "default"
    if region is not None:
        raw = apply_region(raw, region, file)
    if isinstance(spec, dict):
        raw = copy.deepcopy(raw)
        for name, fields in spec.items():
            if not isinstance(fields, dict):
                raise InputError(Issue("scenario", None, f"technologies.{name}", "expected a mapping of fields"))
            if name == "tower_site":  # the new-site figures are overridden like a technology's
                raw["tower_site"] = _deep_merge(raw.get("tower_site") or {}, fields)
                continue
            raw["technologies"][name] = _deep_merge(raw["technologies"].get(name, {}), fields)
        file = "scenario technologies (overrides on the default catalogue)"
    elif str(spec) != "default":
        path = Path(spec)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        raw = _read_yaml(path)
        file = str(path)
    try:
        return Catalogue.model_validate(raw)
    except ValidationError as exc:
        raise InputError(_issues_from(exc, file)) from None


def load_scenario(path: str | Path, base_dir: Path | None = None) -> Scenario:
    """Read and validate a scenario YAML; data paths become absolute.

    Relative paths are resolved against ``base_dir`` (default: the scenario's folder; the app passes the bundled
    scenarios' folder for an uploaded file, whose own folder is a temporary one).
    """
    path = Path(path)
    raw = _read_yaml(path)
    if not isinstance(raw, dict):
        raise InputError(Issue(str(path), None, None, "expected a mapping of scenario keys at the top level"))
    return scenario_from_dict(raw, base_dir=base_dir or path.resolve().parent, file=str(path))


def scenario_from_dict(raw: dict[str, Any], base_dir: Path, file: str = "scenario") -> Scenario:
    """Validate a scenario mapping (from YAML or the app) and resolve its paths against ``base_dir``."""
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as exc:
        raise InputError(_issues_from(exc, file)) from None
    issues: list[Issue] = []
    updates: dict[str, Path] = {}
    for key in DataPaths.model_fields:
        value = getattr(scenario.data, key)
        if value is None:
            continue
        resolved = value if value.is_absolute() else (base_dir / value).resolve()
        if not resolved.exists():
            issues.append(Issue(file, None, f"data.{key}", f"file not found: {resolved}"))
        updates[key] = resolved
    if scenario.countries is not None and scenario.countries.files:
        files = {}
        for iso3, value in scenario.countries.files.items():
            files[iso3] = value if value.is_absolute() else (base_dir / value).resolve()
            if not files[iso3].exists():
                issues.append(Issue(file, None, f"countries.files.{iso3}", f"file not found: {files[iso3]}"))
        scenario.countries = scenario.countries.model_copy(update={"files": files})
    if isinstance(scenario.technologies, Path) and not scenario.technologies.is_absolute():
        scenario.technologies = (base_dir / scenario.technologies).resolve()
    if issues:
        raise InputError(issues)
    scenario.data = scenario.data.model_copy(update=updates)
    return scenario


def catalogue_for(scenario: Scenario) -> Catalogue:
    """The scenario's catalogue, checked against its policy (named technologies must exist)."""
    catalogue = load_catalogue(scenario.technologies, region=scenario.catalogue_region)
    known = set(catalogue.technologies)
    issues = []
    for key, names in (
        ("policy.allowed_technologies", scenario.policy.allowed_technologies or []),
        ("policy.technology_max_share", list(scenario.policy.technology_max_share)),
        (
            "roadmap.build_capacity.per_technology",
            list(scenario.roadmap.build_capacity.per_technology) if scenario.roadmap else [],
        ),
    ):
        for name in names:
            if name not in known:
                issues.append(
                    Issue("scenario", None, key, f"unknown technology '{name}'; expected one of {sorted(known)}")
                )
    infra = scenario.infrastructure
    kinds = {t.kind for t in catalogue.technologies.values()}
    if infra.shared_fibre and "fibre" not in kinds:
        issues.append(Issue("scenario", None, "infrastructure.shared_fibre", "the catalogue has no fibre technology"))
    if infra.radio_relays and "microwave" not in kinds:
        issues.append(
            Issue("scenario", None, "infrastructure.radio_relays", "the catalogue has no microwave technology")
        )
    if infra.new_towers:
        site = catalogue.tower_site
        if site is None:
            issues.append(Issue("scenario", None, "infrastructure.new_towers", "the catalogue has no tower_site"))
        elif site.technology not in known:
            issues.append(Issue("catalogue", None, "tower_site.technology", f"unknown technology '{site.technology}'"))
    if issues:
        raise InputError(issues)
    return catalogue


def scenario_json_schema() -> dict[str, Any]:
    """JSON Schema of the scenario file, for editors (yaml-language-server) and documentation."""
    schema = Scenario.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Connect.Post Planner scenario"
    return schema


def write_json_schema(path: Path) -> None:
    """Write the scenario JSON Schema (committed as scenarios/scenario.schema.json)."""
    path.write_text(json.dumps(scenario_json_schema(), indent=2) + "\n", encoding="utf-8")


def catalogue_figures(catalogue: Catalogue) -> list[tuple[str, str, Figure]]:
    """Every figure of the catalogue as (entry, field, figure): technologies, power, the new tower site, security."""
    entries: list[tuple[str, BaseModel]] = [*catalogue.technologies.items(), ("power", catalogue.power)]
    if catalogue.tower_site is not None:
        entries.append(("tower_site", catalogue.tower_site))
    if catalogue.security is not None:
        entries.append(("security", catalogue.security))
    out: list[tuple[str, str, Figure]] = []
    for name, entry in entries:
        for key in type(entry).model_fields:
            value = getattr(entry, key)
            if isinstance(value, Figure) and value.source != "not applicable":
                out.append((name, key, value))
        for tier_name, tier in entry.tiers.items() if isinstance(entry, Technology) else ():
            for key in ("opex_per_year_usd", "capex_fixed_usd"):
                value = getattr(tier, key)
                if value is not None:
                    out.append((name, f"tiers.{tier_name}.{key}", value))
    return out


def describe_source(catalogue: Catalogue, figure: Figure) -> str:
    """A figure's source in words: publisher, title, year and the figure as published, or the estimate."""
    record = catalogue.sources.get(figure.source)
    if record is None:
        return figure.source
    published = figure.published or (
        "; ".join(record.published) if isinstance(record.published, list) else record.published
    )
    text = f"{record.publisher}, {record.title} ({record.year}): {published}"
    conversion = figure.conversion or record.conversion
    return text + (f" [{conversion}]" if conversion else "")


def catalogue_table(catalogue: Catalogue) -> list[dict[str, Any]]:
    """Every figure of the catalogue as rows (technology, field, value, low, high, source, source_id, year).

    The donor's "where does this number come from" view and the source list in docs/cost-sources.md.
    """
    rows: list[dict[str, Any]] = []
    for name, key, fig in catalogue_figures(catalogue):
        record = catalogue.sources.get(fig.source)
        rows.append({"technology": name, "field": key, "value": fig.value, "low": fig.low, "high": fig.high,
                     "source": describe_source(catalogue, fig), "source_id": fig.source if record else "",
                     "year": record.year if record else None, "note": fig.note or ""})  # fmt: skip
    return rows


def catalogue_check(catalogue: Catalogue, this_year: int, max_age_years: int = 5) -> list[dict[str, Any]]:
    """Findings on the catalogue's sources: estimates, figures older than ``max_age_years``, missing records.

    A figure without a source record is an error: its number cannot be traced.

    Rows: ``entry, field, value, finding`` (``estimate``, ``override``, ``old``, ``undated``, ``no source``) and
    ``detail``. A bare number in a scenario (``scenario override``) is the user's own figure, not an error.
    """
    out: list[dict[str, Any]] = []
    for name, key, fig in catalogue_figures(catalogue):
        record = catalogue.sources.get(fig.source)
        row = {"entry": name, "field": key, "value": fig.value}
        if fig.source.startswith(ESTIMATE):
            out.append({**row, "finding": "estimate", "detail": fig.source})
        elif fig.source == "scenario override":
            out.append({**row, "finding": "override", "detail": "a number the scenario gives"})
        elif record is None:
            out.append({**row, "finding": "no source", "detail": f"'{fig.source}' is not a source record"})
        elif record.year == "undated":
            out.append({**row, "finding": "undated", "detail": f"{record.publisher}, {record.title}"})
        elif this_year - int(record.year) > max_age_years:
            out.append({**row, "finding": "old", "detail": f"{record.publisher}, {record.title} ({record.year})"})
    return out
